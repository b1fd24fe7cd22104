// The reader's worklist: my tasks with filters and pages, "Start next", and for reviewers and
// managers the readings waiting for review.
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { errorMessage } from "../../api";
import { Alert, ErrorAlert, Loading } from "../../components/ui";
import { useAsync } from "../../hooks/useAsync";
import { claimNext, listTasks } from "../../labeling/taskApi";
import { ORDERINGS, TASK_STATUSES, type LabelingTask, type TaskStatus } from "../../labeling/taskTypes";
import { AssignmentBadge, SelectFilter, TaskStatusBadge, TaskSubject, formatDate, isOverdue, workspacePath } from "../../labeling/taskView";
import type { Project } from "../../types";

const PAGE_SIZE = 25;

export function WorklistTab({ project }: { project: Project }) {
  const navigate = useNavigate();
  const canReview = project.my_role === "manager" || project.my_role === "reviewer";
  const canRead = canReview || project.my_role === "annotator";
  const [status, setStatus] = useState<TaskStatus | "">("");
  const [modality, setModality] = useState("");
  const [dueBefore, setDueBefore] = useState("");
  const [ordering, setOrdering] = useState(ORDERINGS[0].value);
  const [page, setPage] = useState(1);
  const [claiming, setClaiming] = useState(false);
  const [claimMessage, setClaimMessage] = useState<{ kind: "info" | "error"; text: string } | null>(null);

  const tasks = useAsync(
    (signal) =>
      listTasks(
        project.id,
        {
          mine: true,
          status: status ? [status] : undefined,
          modality,
          due_before: dueBefore,
          ordering,
          page,
          page_size: PAGE_SIZE,
        },
        signal,
      ),
    [project.id, status, modality, dueBefore, ordering, page],
  );

  const setFilter = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage(1);
  };

  const startNext = async () => {
    setClaiming(true);
    setClaimMessage(null);
    try {
      const assignment = await claimNext(project.id);
      if (!assignment) {
        setClaimMessage({ kind: "info", text: "Nothing left to read: every task is taken or done." });
        tasks.reload();
      } else {
        navigate(workspacePath(project.id, assignment.task));
      }
    } catch (err) {
      setClaimMessage({ kind: "error", text: errorMessage(err) });
    } finally {
      setClaiming(false);
    }
  };

  const data = tasks.data;
  const pages = data ? Math.max(1, Math.ceil(data.count / PAGE_SIZE)) : 1;
  return (
    <div data-testid="worklist-tab">
      <div className="toolbar">
        {canRead && (
          <button type="button" className="btn-primary" onClick={() => void startNext()} disabled={claiming} data-testid="start-next">
            {claiming ? "Finding a task…" : "Start next"}
          </button>
        )}
        <SelectFilter
          label="Status"
          value={status}
          any="Any"
          options={TASK_STATUSES.map((s) => ({ value: s.code, name: s.name }))}
          onChange={(v) => setFilter(setStatus)(v as TaskStatus | "")}
          testId="worklist-status"
        />
        <SelectFilter
          label="Modality"
          value={modality}
          any="Any"
          options={project.modalities.map((m) => ({ value: m, name: m }))}
          onChange={setFilter(setModality)}
          testId="worklist-modality"
        />
        <label className="field-inline nowrap">
          Due by
          <input type="date" value={dueBefore} onChange={(e) => setFilter(setDueBefore)(e.target.value)} data-testid="worklist-due-before" />
        </label>
        <label className="field-inline">
          Order
          <select value={ordering} onChange={(e) => setFilter(setOrdering)(e.target.value)} data-testid="worklist-ordering">
            {ORDERINGS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        {data && (
          <span className="muted" data-testid="worklist-count">
            {data.count} task(s)
          </span>
        )}
      </div>
      {claimMessage && (
        <Alert kind={claimMessage.kind} testId="start-next-message">
          {claimMessage.text}
        </Alert>
      )}
      <h2 className="section-title">My tasks</h2>
      <ErrorAlert error={tasks.error} />
      {!data ? (
        !tasks.error && <Loading />
      ) : data.results.length === 0 ? (
        <div className="empty" data-testid="worklist-empty">
          {status || modality || dueBefore ? "No task of yours matches these filters." : canRead ? "You hold no task yet. Press “Start next” to claim one." : "Viewers hold no tasks."}
        </div>
      ) : (
        <TaskTable
          projectId={project.id}
          tasks={data.results}
          loading={tasks.loading}
          onOpen={(t) => navigate(workspacePath(project.id, t.id))}
          testId="worklist-table"
          rowTestId="worklist-row"
        />
      )}
      {data && pages > 1 && (
        <div className="pager">
          <button type="button" disabled={page <= 1} onClick={() => setPage((n) => n - 1)} data-testid="worklist-prev">
            ← Previous
          </button>
          <span className="muted" data-testid="worklist-page">
            Page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages} onClick={() => setPage((n) => n + 1)} data-testid="worklist-next">
            Next →
          </button>
        </div>
      )}
      {canReview && <ReviewList project={project} />}
    </div>
  );
}

function TaskTable({
  projectId,
  tasks,
  loading,
  onOpen,
  testId,
  rowTestId,
  review = false,
}: {
  projectId: number;
  tasks: LabelingTask[];
  loading: boolean;
  onOpen(task: LabelingTask): void;
  testId: string;
  rowTestId: string;
  review?: boolean;
}) {
  return (
    <table className={`table worklist-table${loading ? " is-loading" : ""}`} data-testid={testId}>
      <thead>
        <tr>
          <th className="num">#</th>
          <th className="num">Priority</th>
          <th>Images</th>
          <th>Task</th>
          <th>Due</th>
          <th>{review ? "Readings" : "My reading"}</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => {
          const mine = t.my_assignment;
          const returned = !review && mine?.status === "returned";
          return (
            <tr
              key={t.id}
              className={`clickable${returned ? " row-returned" : ""}`}
              onClick={() => onOpen(t)}
              data-testid={rowTestId}
              data-task-id={t.id}
              data-status={t.status}
            >
              <td className="num">
                <Link to={workspacePath(projectId, t.id, review)} onClick={(e) => e.stopPropagation()} data-testid="task-open">
                  {t.id}
                </Link>
              </td>
              <td className="num" data-testid="task-priority">
                {t.priority}
              </td>
              <td>
                <TaskSubject task={t} />
              </td>
              <td>
                <TaskStatusBadge status={t.status} testId="task-status" />
              </td>
              <td className={isOverdue(t.due_date) && t.status !== "done" ? "overdue nowrap" : "nowrap"} data-testid="task-due">
                {formatDate(t.due_date)}
              </td>
              <td>
                {review ? (
                  t.assignments.map((a) => (
                    <div key={a.id} className="reader-line">
                      {a.reader.username} <AssignmentBadge assignment={a} />
                    </div>
                  ))
                ) : mine ? (
                  <>
                    <AssignmentBadge assignment={mine} testId="my-assignment-status" />
                    {returned && mine.review_comment && (
                      <div className="review-comment" data-testid="review-comment">
                        <span className="muted small">Reviewer: </span>
                        {mine.review_comment}
                      </div>
                    )}
                  </>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Tasks whose readings wait for a reviewer: in review, or with a submitted reading. */
function ReviewList({ project }: { project: Project }) {
  const navigate = useNavigate();
  const list = useAsync(
    (signal) =>
      listTasks(project.id, { status: ["in_review", "in_progress"], ordering: "-priority,created_at", page_size: 100 }, signal),
    [project.id],
  );
  const waiting = (list.data?.results ?? []).filter(
    (t) => t.status === "in_review" || t.assignments.some((a) => a.status === "submitted"),
  );
  return (
    <div className="review-list" data-testid="review-list">
      <h2 className="section-title">
        To review {list.data && <span className="muted small" data-testid="review-count">({waiting.length})</span>}
      </h2>
      <ErrorAlert error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : waiting.length === 0 ? (
        <div className="empty" data-testid="review-empty">
          Nothing waits for review.
        </div>
      ) : (
        <TaskTable
          projectId={project.id}
          tasks={waiting}
          loading={list.loading}
          onOpen={(t) => navigate(workspacePath(project.id, t.id, true))}
          testId="review-table"
          rowTestId="review-row"
          review
        />
      )}
    </div>
  );
}
