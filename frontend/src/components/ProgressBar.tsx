import type { Job, JobState } from "../types";

interface ProgressBarProps {
  /** 0..1, or null for an indeterminate bar (the total is not known yet). */
  value: number | null;
  state?: JobState;
  label?: string;
  testId?: string;
}

/** A progress bar; indeterminate (animated stripe) when the value is unknown. */
export function ProgressBar({ value, state, label, testId }: ProgressBarProps) {
  const pct = value == null ? null : Math.round(Math.min(1, Math.max(0, value)) * 100);
  const cls = ["progress", state ? `progress-${state}` : "", pct == null ? "progress-indeterminate" : ""]
    .filter(Boolean)
    .join(" ");
  return (
    <div
      className={cls}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct ?? undefined}
      aria-label={label ?? "Progress"}
      data-testid={testId}
      data-state={state}
    >
      <div className="progress-fill" style={pct == null ? undefined : { width: `${pct}%` }} />
      {label != null && <span className="progress-label">{label}</span>}
    </div>
  );
}

const STATE_NAMES: Record<JobState, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
};

/** Progress bar plus state and message for one job. */
export function JobProgress({ job, testId }: { job: Job<unknown>; testId?: string }) {
  // Queued, or running without a known total: an indeterminate bar rather than a stuck 0 %.
  const value =
    job.state === "succeeded" || job.state === "failed"
      ? 1
      : job.state === "queued"
        ? null
        : job.total
          ? (job.progress ?? job.done / job.total)
          : (job.progress || null);
  const counts = job.total ? ` · ${job.done} / ${job.total}` : job.done ? ` · ${job.done}` : "";
  return (
    <div className="job-progress" data-testid={testId}>
      <ProgressBar value={value} state={job.state} />
      <div className="job-progress-line">
        <span className={`badge badge-${job.state}`} data-testid={testId ? `${testId}-state` : undefined}>
          {STATE_NAMES[job.state] ?? job.state}
        </span>
        <span className="muted">
          {job.message}
          {counts}
        </span>
      </div>
      {job.state === "failed" && job.error && <pre className="alert alert-error pre-wrap">{job.error}</pre>}
    </div>
  );
}
