// The per-file report of an ingest (upload or PACS pull) job, followed while it runs.
import { JobProgress } from "../components/ProgressBar";
import { useJobPoll } from "../hooks/useJobPoll";
import type { Job } from "../types";
import type { IngestReport } from "./taskTypes";

/** Follow one ingest (or pull) job and show its report when it ends. */
export function IngestJob({ initial, testId = "ingest-job" }: { initial: Job; testId?: string }) {
  const seed = initial as unknown as Job<IngestReport>;
  const { job } = useJobPoll<IngestReport>(initial.id, seed);
  const shown = job ?? seed;
  return (
    <div className="ingest-job" data-testid={testId} data-job-id={String(shown.id)} data-state={shown.state}>
      <JobProgress job={shown} testId={`${testId}-progress`} />
      {shown.state === "succeeded" && shown.result && <IngestReportView report={shown.result} />}
    </div>
  );
}

const OUTCOME_NAMES: Record<string, string> = {
  duplicate: "Duplicate",
  conflict: "Conflict",
  rejected: "Rejected",
};

export function IngestReportView({ report }: { report: IngestReport }) {
  const counts = [
    { id: "accepted", label: "Accepted", value: report.accepted },
    { id: "duplicates", label: "Duplicates", value: report.duplicates },
    { id: "conflicts", label: "Conflicts", value: report.conflicts },
    { id: "rejected", label: "Rejected", value: report.rejected },
  ];
  const files = report.files ?? [];
  return (
    <div className="ingest-report" data-testid="ingest-report">
      <div className="figures">
        {counts.map((c) => (
          <div key={c.id} className={`figure${c.value > 0 ? ` figure-${c.id}` : ""}`} data-testid={`report-${c.id}`} data-value={c.value}>
            <div className="figure-value">{c.value}</div>
            <div className="figure-label">{c.label}</div>
          </div>
        ))}
      </div>
      {(report.series ?? []).length > 0 && (
        <p className="muted small" data-testid="report-series">
          {report.series.length} series:{" "}
          {report.series.map((s) => `${s.modality} (${s.instances} image${s.instances === 1 ? "" : "s"})`).join(", ")}
          {report.series.some((s) => s.burned_in_risk) && " · some may carry burned-in text: check them before labeling"}
        </p>
      )}
      {files.length > 0 && (
        <table className="table report-files" data-testid="report-files">
          <thead>
            <tr>
              <th>File</th>
              <th>Outcome</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {files.map((f, i) => (
              <tr key={`${f.name}-${i}`} data-testid="report-file" data-status={f.status}>
                <td className="mono small">{f.name}</td>
                <td>
                  <span className={`badge badge-outcome-${f.status}`}>{OUTCOME_NAMES[f.status] ?? f.status}</span>
                </td>
                <td>
                  {f.reason || <span className="muted">—</span>}
                  {f.code && <span className="muted small"> ({f.code})</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
