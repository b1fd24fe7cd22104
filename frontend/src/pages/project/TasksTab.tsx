// Assignment overview for managers: every task with its readers, dealing of open slots,
// assigning / reassigning / removing readers, task edits with the task's version, exclusions.
import { Fragment, useState } from "react";
import { Link } from "react-router";
import { Alert, ErrorAlert, Loading } from "../../components/ui";
import { useAsync } from "../../hooks/useAsync";
import { ExclusionForm, ReaderSlots, TaskEditor } from "../../labeling/TaskControls";
import { distribute, getTask, listMembers, listTasks } from "../../labeling/taskApi";
import { ORDERINGS, TASK_STATUSES, type LabelingTask, type TaskStatus } from "../../labeling/taskTypes";
import { SelectFilter, TaskStatusBadge, TaskSubject, formatDate, isOverdue, workspacePath } from "../../labeling/taskView";
import type { Project } from "../../types";

const PAGE_SIZE = 50;

export function TasksTab({ project }: { project: Project }) {
  const [status, setStatus] = useState<TaskStatus | "">("");
  const [modality, setModality] = useState("");
  const [reader, setReader] = useState("");
  const [ordering, setOrdering] = useState(ORDERINGS[0].value);
  const [page, setPage] = useState(1);
  const [dealing, setDealing] = useState(false);
  const [dealt, setDealt] = useState<number | null>(null);
  const [dealError, setDealError] = useState<unknown>(null);
  const [editing, setEditing] = useState<number | null>(null);

  const members = useAsync((signal) => listMembers(project.id, signal), [project.id]);
  const readers = (members.data ?? []).filter((m) => m.role !== "viewer");
  const tasks = useAsync(
    (signal) =>
      listTasks(
        project.id,
        {
          status: status ? [status] : undefined,
          modality,
          reader: reader ? Number(reader) : undefined,
          ordering,
          page,
          page_size: PAGE_SIZE,
        },
        signal,
      ),
    [project.id, status, modality, reader, ordering, page],
  );

  const setFilter = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage(1);
  };

  const replaceTask = (next: LabelingTask) =>
    tasks.setData((prev) => (prev ? { ...prev, results: prev.results.map((t) => (t.id === next.id ? next : t)) } : prev!));

  const refreshTask = async (taskId: number) => {
    try {
      replaceTask(await getTask(project.id, taskId));
    } catch {
      tasks.reload();
    }
  };

  const deal = async () => {
    setDealing(true);
    setDealError(null);
    setDealt(null);
    try {
      const result = await distribute(project.id);
      setDealt(result.assigned);
      tasks.reload();
    } catch (err) {
      setDealError(err);
    } finally {
      setDealing(false);
    }
  };

  const data = tasks.data;
  const pages = data ? Math.max(1, Math.ceil(data.count / PAGE_SIZE)) : 1;
  return (
    <div data-testid="tasks-tab">
      <div className="toolbar">
        <button type="button" className="btn-primary" onClick={() => void deal()} disabled={dealing} data-testid="distribute">
          {dealing ? "Dealing…" : "Deal open slots"}
        </button>
        <SelectFilter
          label="Status"
          value={status}
          any="Any"
          options={TASK_STATUSES.map((s) => ({ value: s.code, name: s.name }))}
          onChange={(v) => setFilter(setStatus)(v as TaskStatus | "")}
          testId="tasks-status"
        />
        <SelectFilter
          label="Modality"
          value={modality}
          any="Any"
          options={project.modalities.map((m) => ({ value: m, name: m }))}
          onChange={setFilter(setModality)}
          testId="tasks-modality"
        />
        <label className="field-inline">
          Reader
          <select value={reader} onChange={(e) => setFilter(setReader)(e.target.value)} data-testid="tasks-reader">
            <option value="">Anyone</option>
            {readers.map((m) => (
              <option key={m.user.id} value={String(m.user.id)}>
                {m.user.username}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          Order
          <select value={ordering} onChange={(e) => setFilter(setOrdering)(e.target.value)} data-testid="tasks-ordering">
            {ORDERINGS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        {data && (
          <span className="muted" data-testid="tasks-count">
            {data.count} task(s)
          </span>
        )}
      </div>
      {dealt != null && (
        <Alert kind={dealt > 0 ? "success" : "info"} testId="distribute-result">
          {dealt > 0 ? `Dealt ${dealt} open slot(s) to readers.` : "No open slot could be dealt (none left, or no eligible reader)."}
        </Alert>
      )}
      <ErrorAlert error={dealError} />
      <ErrorAlert error={tasks.error} />
      {!data ? (
        !tasks.error && <Loading />
      ) : data.results.length === 0 ? (
        <div className="empty" data-testid="tasks-empty">
          {status || modality || reader ? "No task matches these filters." : "No task yet: tasks open when imported images are ready."}
        </div>
      ) : (
        <table className={`table tasks-table${tasks.loading ? " is-loading" : ""}`} data-testid="tasks-table">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Images</th>
              <th>Status</th>
              <th className="num">Priority</th>
              <th>Due</th>
              <th>Readers</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.results.map((t) => (
              <Fragment key={t.id}>
                <tr data-testid="task-row" data-task-id={t.id} data-status={t.status}>
                  <td className="num">
                    <Link to={workspacePath(project.id, t.id, t.status === "in_review")} data-testid="task-open">
                      {t.id}
                    </Link>
                  </td>
                  <td>
                    <TaskSubject task={t} />
                  </td>
                  <td>
                    <TaskStatusBadge status={t.status} testId="task-status" />
                  </td>
                  <td className="num" data-testid="task-priority">
                    {t.priority}
                  </td>
                  <td className={isOverdue(t.due_date) && t.status !== "done" ? "overdue nowrap" : "nowrap"} data-testid="task-due">
                    {formatDate(t.due_date)}
                  </td>
                  <td>
                    <ReaderSlots project={project} task={t} readers={readers} onChanged={() => void refreshTask(t.id)} />
                  </td>
                  <td className="actions">
                    <button
                      type="button"
                      className="btn-ghost btn-small"
                      onClick={() => setEditing(editing === t.id ? null : t.id)}
                      aria-expanded={editing === t.id}
                      data-testid="task-edit"
                    >
                      {editing === t.id ? "Close" : "Edit"}
                    </button>
                  </td>
                </tr>
                {editing === t.id && (
                  <tr className="task-edit-row">
                    <td colSpan={7}>
                      <TaskEditor
                        project={project}
                        task={t}
                        readers={readers}
                        onSaved={(next) => {
                          replaceTask(next);
                          setEditing(null);
                        }}
                        onReloaded={replaceTask}
                      />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {data && pages > 1 && (
        <div className="pager">
          <button type="button" disabled={page <= 1} onClick={() => setPage((n) => n - 1)} data-testid="tasks-prev">
            ← Previous
          </button>
          <span className="muted">
            Page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages} onClick={() => setPage((n) => n + 1)} data-testid="tasks-next">
            Next →
          </button>
        </div>
      )}
      <ExclusionForm project={project} members={members.data ?? []} />
    </div>
  );
}
