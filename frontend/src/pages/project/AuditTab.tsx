import { useEffect, useState } from "react";
import { api, apiUrl, getAll, getPage } from "../../api";
import { JobProgress } from "../../components/ProgressBar";
import { ErrorAlert, Loading, formatDateTime, formatValue } from "../../components/ui";
import { useAsync } from "../../hooks/useAsync";
import { useJobPoll } from "../../hooks/useJobPoll";
import type { AuditEvent, Job, Member, Project } from "../../types";

export function AuditTab({ project }: { project: Project }) {
  const [actionInput, setActionInput] = useState("");
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  // null: first page of the current filters; else a `next`/`previous` link from the API.
  const [pageUrl, setPageUrl] = useState<string | null>(null);
  const [pageNo, setPageNo] = useState(1);

  const members = useAsync((signal) => getAll<Member>(`projects/${project.id}/members/`, undefined, signal), [project.id]);
  const events = useAsync(
    (signal) =>
      pageUrl
        ? getPage<AuditEvent>(pageUrl, undefined, signal)
        : getPage<AuditEvent>("audit-events/", { project: project.id, action: action.trim(), actor }, signal),
    [project.id, action, actor, pageUrl],
  );

  const setFilter = (fn: () => void) => {
    fn();
    setPageUrl(null);
    setPageNo(1);
  };

  // Debounce typing in the action filter.
  useEffect(() => {
    if (actionInput === action) return;
    const t = window.setTimeout(() => setFilter(() => setAction(actionInput)), 300);
    return () => window.clearTimeout(t);
  }, [actionInput, action]);

  const data = events.data;
  return (
    <div data-testid="audit-tab">
      <div className="toolbar">
        <label className="field-inline">
          Action
          <input
            type="search"
            value={actionInput}
            placeholder="e.g. update"
            onChange={(e) => setActionInput(e.target.value)}
            data-testid="audit-action"
          />
        </label>
        <label className="field-inline">
          Actor
          <select value={actor} onChange={(e) => setFilter(() => setActor(e.target.value))} data-testid="audit-actor">
            <option value="">Anyone</option>
            {(members.data ?? []).map((m) => (
              <option key={m.user.id} value={String(m.user.id)}>
                {m.user.username}
              </option>
            ))}
          </select>
        </label>
        {data && <span className="muted">{data.count} event(s)</span>}
        <span className="spacer" />
        <AuditExport project={project} />
      </div>
      <ErrorAlert error={events.error} />
      {!data ? (
        <Loading />
      ) : data.results.length === 0 ? (
        <div className="empty">No audit events match.</div>
      ) : (
        <table className={`table audit-table${events.loading ? " is-loading" : ""}`} data-testid="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Object</th>
              <th>Changes</th>
            </tr>
          </thead>
          <tbody>
            {data.results.map((ev) => (
              <tr key={ev.id} data-testid="audit-row">
                <td className="nowrap">{formatDateTime(ev.created_at)}</td>
                <td>{ev.actor?.username ?? <span className="muted">system</span>}</td>
                <td>
                  <code>{ev.action}</code>
                </td>
                <td>
                  <span className="muted small">{ev.object_type}</span> {ev.object_repr}
                </td>
                <td>
                  <ChangeList changes={ev.changes} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && (data.previous || data.next) && (
        <div className="pager">
          <button
            type="button"
            disabled={!data.previous}
            onClick={() => {
              setPageUrl(data.previous);
              setPageNo((n) => Math.max(1, n - 1));
            }}
            data-testid="audit-prev"
          >
            ← Newer
          </button>
          <span className="muted">Page {pageNo}</span>
          <button
            type="button"
            disabled={!data.next}
            onClick={() => {
              setPageUrl(data.next);
              setPageNo((n) => n + 1);
            }}
            data-testid="audit-next"
          >
            Older →
          </button>
        </div>
      )}
    </div>
  );
}

function ChangeList({ changes }: { changes: AuditEvent["changes"] }) {
  const entries = Object.entries(changes ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="changes">
      {entries.map(([field, pair]) => {
        const [before, after] = Array.isArray(pair) ? pair : [undefined, pair];
        return (
          <li key={field}>
            <strong>{field}</strong>:{" "}
            <span className="before" title={fullValue(before)}>
              {formatValue(before)}
            </span>{" "}
            →{" "}
            <span className="after" title={fullValue(after)}>
              {formatValue(after)}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

/** Export the whole audit log of the project as CSV (a background job with progress). */
function AuditExport({ project }: { project: Project }) {
  const [started, setStarted] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { job, active } = useJobPoll(started?.id ?? null, started);

  const start = async () => {
    setError(null);
    try {
      setStarted(await api.post<Job>(`projects/${project.id}/audit-export/`));
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div className="audit-export" data-testid="audit-export">
      <button type="button" onClick={() => void start()} disabled={active} data-testid="audit-export-start">
        Export CSV
      </button>
      {job && (
        <div className="audit-export-status">
          <JobProgress job={job} testId="audit-export-job" />
          {job.state === "succeeded" && job.has_file !== false && (
            <a href={apiUrl(`jobs/${job.id}/download/`)} download data-testid="audit-export-download">
              Download CSV
            </a>
          )}
        </div>
      )}
      <ErrorAlert error={error} />
    </div>
  );
}

function fullValue(value: unknown): string | undefined {
  return value !== null && typeof value === "object" ? JSON.stringify(value, null, 1) : undefined;
}
