// Controls of the assignment overview: a task's reader slots, its editor (with the task's
// version) and reader exclusions.
import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api";
import { Alert, ErrorAlert } from "../components/ui";
import type { Member, Project } from "../types";
import { assignReader, getTask, patchTask, reassign, setExclusion, unassign } from "./taskApi";
import type { Assignment, LabelingTask, TaskPatch } from "./taskTypes";
import { AssignmentBadge, formatDuration } from "./taskView";

const OPEN_ASSIGNMENT = new Set(["assigned", "in_progress", "returned"]);

/** The readers of one task with their status; reassign / remove open slots, assign a new one. */
export function ReaderSlots({
  project,
  task,
  readers,
  onChanged,
}: {
  project: Project;
  task: LabelingTask;
  readers: Member[];
  onChanged(): void;
}) {
  const [pick, setPick] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const free = Math.max(0, task.readers_required - task.assignments.length);
  const closed = task.status === "done" || task.status === "skipped";
  const holders = new Set(task.assignments.map((a) => a.reader.id));
  const candidates = readers.filter((m) => !holders.has(m.user.id));

  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      setPick("");
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="reader-slots" data-testid="reader-slots">
      {task.assignments.map((a) => (
        <SlotLine key={a.id} assignment={a} candidates={candidates} busy={busy} onRun={run} projectId={project.id} />
      ))}
      {free > 0 && !closed && (
        <div className="slot-assign">
          <span className="muted small" data-testid="open-slots">
            {free} open slot{free > 1 ? "s" : ""}
          </span>
          <select value={pick} onChange={(e) => setPick(e.target.value)} aria-label="Reader to assign" data-testid="assign-reader">
            <option value="">Assign…</option>
            {candidates.map((m) => (
              <option key={m.user.id} value={String(m.user.id)}>
                {m.user.username} ({m.role})
              </option>
            ))}
          </select>
          <button
            type="button"
            className="btn-small"
            disabled={!pick || busy}
            onClick={() => void run(() => assignReader(project.id, task.id, Number(pick)))}
            data-testid="assign-submit"
          >
            Assign
          </button>
        </div>
      )}
      {error != null && <ErrorAlert error={error} testId="slot-error" />}
    </div>
  );
}

function SlotLine({
  projectId,
  assignment,
  candidates,
  busy,
  onRun,
}: {
  projectId: number;
  assignment: Assignment;
  candidates: Member[];
  busy: boolean;
  onRun(fn: () => Promise<unknown>): Promise<void>;
}) {
  const [moving, setMoving] = useState(false);
  const [to, setTo] = useState("");
  const open = OPEN_ASSIGNMENT.has(assignment.status);
  return (
    <div className="slot-line" data-testid="slot" data-reader={assignment.reader.username} data-status={assignment.status}>
      <span className="slot-reader">{assignment.reader.username}</span> <AssignmentBadge assignment={assignment} testId="slot-status" />
      {assignment.active_seconds > 0 && <span className="muted small"> {formatDuration(assignment.active_seconds)}</span>}
      {open && !moving && (
        <span className="slot-actions">
          <button type="button" className="btn-ghost btn-small" disabled={busy} onClick={() => setMoving(true)} data-testid="slot-reassign">
            Reassign
          </button>
          <button
            type="button"
            className="btn-ghost btn-small btn-danger-text"
            disabled={busy}
            onClick={() => void onRun(() => unassign(projectId, assignment.id))}
            data-testid="slot-remove"
          >
            Remove
          </button>
        </span>
      )}
      {moving && (
        <span className="slot-actions">
          <select value={to} onChange={(e) => setTo(e.target.value)} aria-label="New reader" data-testid="slot-reassign-to">
            <option value="">To…</option>
            {candidates.map((m) => (
              <option key={m.user.id} value={String(m.user.id)}>
                {m.user.username}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="btn-small"
            disabled={!to || busy}
            onClick={() => void onRun(() => reassign(projectId, assignment.id, Number(to))).then(() => setMoving(false))}
            data-testid="slot-reassign-submit"
          >
            Move
          </button>
          <button type="button" className="btn-ghost btn-small" onClick={() => setMoving(false)}>
            Cancel
          </button>
        </span>
      )}
    </div>
  );
}

/** Priority, due date, readers required and skip, saved with the task's version. */
export function TaskEditor({
  project,
  task,
  onSaved,
  onReloaded,
}: {
  project: Project;
  task: LabelingTask;
  readers: Member[];
  onSaved(task: LabelingTask): void;
  onReloaded(task: LabelingTask): void;
}) {
  const [priority, setPriority] = useState(String(task.priority));
  const [due, setDue] = useState(task.due_date ?? "");
  const [readersRequired, setReadersRequired] = useState(String(task.readers_required));
  const [skipped, setSkipped] = useState(task.status === "skipped");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const stale = error instanceof ApiError && error.status === 409 && error.isStale;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Send only what changed, so a save never undoes a field someone else set.
      const patch: TaskPatch = { version: task.version };
      if (Number(priority) !== task.priority) patch.priority = Number(priority);
      if ((due || null) !== task.due_date) patch.due_date = due || null;
      if (Number(readersRequired) !== task.readers_required) patch.readers_required = Number(readersRequired);
      if (skipped !== (task.status === "skipped")) patch.skipped = skipped;
      const next = await patchTask(project.id, task.id, patch);
      onSaved(next);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const reload = async () => {
    try {
      const fresh = await getTask(project.id, task.id);
      onReloaded(fresh);
      setPriority(String(fresh.priority));
      setDue(fresh.due_date ?? "");
      setReadersRequired(String(fresh.readers_required));
      setSkipped(fresh.status === "skipped");
      setError(null);
    } catch (err) {
      setError(err);
    }
  };

  const fieldErrors = error instanceof ApiError ? error.errors : {};
  return (
    <form className="task-editor inline-form" onSubmit={(e) => void save(e)} noValidate data-testid="task-editor">
      <label className="field field-narrow">
        <span>Priority</span>
        <input type="number" min={-1000} max={1000} value={priority} onChange={(e) => setPriority(e.target.value)} data-testid="task-edit-priority" />
      </label>
      <label className="field">
        <span>Due date</span>
        <input type="date" value={due} onChange={(e) => setDue(e.target.value)} data-testid="task-edit-due" />
      </label>
      <label className="field field-narrow">
        <span>Readers</span>
        <input
          type="number"
          min={1}
          max={10}
          value={readersRequired}
          onChange={(e) => setReadersRequired(e.target.value)}
          data-testid="task-edit-readers"
        />
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={skipped} onChange={(e) => setSkipped(e.target.checked)} data-testid="task-edit-skipped" />
        Skipped
      </label>
      <button type="submit" className="btn-primary" disabled={busy} data-testid="task-edit-save">
        Save
      </button>
      {stale ? (
        <Alert kind="warning" testId="task-edit-stale">
          This task was changed by someone else in the meantime.{" "}
          <button type="button" onClick={() => void reload()} data-testid="task-edit-reload">
            Reload it
          </button>
        </Alert>
      ) : (
        error != null && (
          <Alert kind="error" testId="task-edit-error">
            {errorMessage(error)}
            {Object.entries(fieldErrors).map(([k, v]) => (
              <div key={k}>
                <code>{k}</code>: {v.join(" ")}
              </div>
            ))}
          </Alert>
        )
      )}
    </form>
  );
}

/** Keep a member off the dealing of the whole project or of one task (or lift it). */
export function ExclusionForm({ project, members }: { project: Project; members: Member[] }) {
  const [user, setUser] = useState("");
  const [task, setTask] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const submit = async (excluded: boolean) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      await setExclusion(project.id, { user: Number(user), task: task ? Number(task) : null, excluded });
      const who = members.find((m) => String(m.user.id) === user)?.user.username ?? "The member";
      const where = task ? `task ${task}` : "this project";
      setResult(excluded ? `${who} is excluded from dealing on ${where}.` : `${who} may be dealt ${where} again.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card exclusion-form" onSubmit={(e) => e.preventDefault()} data-testid="exclusion-form">
      <h3>Exclude a reader from dealing</h3>
      <p className="muted small">
        An excluded member is never dealt this project's tasks (or the one task given), by “Deal open slots” or automatic dealing.
      </p>
      <div className="inline-form">
        <label className="field">
          <span>Member</span>
          <select value={user} onChange={(e) => setUser(e.target.value)} data-testid="exclusion-user">
            <option value="">Choose…</option>
            {members.map((m) => (
              <option key={m.user.id} value={String(m.user.id)}>
                {m.user.username} ({m.role})
              </option>
            ))}
          </select>
        </label>
        <label className="field field-narrow">
          <span>Task # (optional)</span>
          <input type="number" min={1} value={task} onChange={(e) => setTask(e.target.value)} data-testid="exclusion-task" />
        </label>
        <button type="button" disabled={!user || busy} onClick={() => void submit(true)} data-testid="exclusion-add">
          Exclude
        </button>
        <button type="button" className="btn-ghost" disabled={!user || busy} onClick={() => void submit(false)} data-testid="exclusion-remove">
          Allow again
        </button>
      </div>
      {result && (
        <Alert kind="success" testId="exclusion-result">
          {result}
        </Alert>
      )}
      <ErrorAlert error={error} showFieldErrors />
    </form>
  );
}
