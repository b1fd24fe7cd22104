// Small pieces shared by the worklist and the assignment overview.
import { Badge } from "../components/ui";
import type { Assignment, LabelingTask } from "./taskTypes";
import { ASSIGNMENT_STATUS_NAMES, taskStatusName } from "./taskTypes";

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** A calendar date ("2026-11-24") shown in the user's locale, without a time zone shift. */
export function formatDate(day: string | null | undefined): string {
  if (!day) return "—";
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return day;
  return dateFormat.format(new Date(y, m - 1, d));
}

/** True when a due date lies before today (local time). */
export function isOverdue(day: string | null | undefined): boolean {
  if (!day) return false;
  const today = new Date();
  const iso = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
  return day < iso;
}

export function TaskStatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <Badge kind={`task-${status}`} testId={testId}>
      {taskStatusName(status)}
    </Badge>
  );
}

export function AssignmentBadge({ assignment, testId }: { assignment: Assignment; testId?: string }) {
  return (
    <Badge kind={`asg-${assignment.status}`} testId={testId}>
      {ASSIGNMENT_STATUS_NAMES[assignment.status] ?? assignment.status}
    </Badge>
  );
}

/** What the task shows: modality and series description, else the study's. */
export function TaskSubject({ task }: { task: LabelingTask }) {
  const modality = task.series?.modality;
  const description = task.series?.description || task.study.description;
  return (
    <span className="task-subject">
      {modality && <Badge kind="modality">{modality}</Badge>}
      <span data-testid="task-description">{description || <span className="muted">No description</span>}</span>
      {task.study.study_date && <span className="muted small"> · {formatDate(task.study.study_date)}</span>}
    </span>
  );
}

export function workspacePath(projectId: number, taskId: number, review = false): string {
  return `/projects/${projectId}/tasks/${taskId}${review ? "?review=1" : ""}`;
}

/** Seconds as "4 min 10 s" / "1 h 05 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export interface FilterOption {
  value: string;
  name: string;
}

/** A labelled <select> of a list filter; `any` adds an "everything" choice with value "". */
export function SelectFilter({
  label,
  value,
  options,
  onChange,
  any,
  testId,
}: {
  label: string;
  value: string;
  options: FilterOption[];
  onChange(value: string): void;
  any?: string;
  testId: string;
}) {
  return (
    <label className="field-inline">
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {any !== undefined && <option value="">{any}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  );
}
