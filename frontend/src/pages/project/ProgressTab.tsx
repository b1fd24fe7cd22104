// Labeling progress drawn as plain SVG charts: tasks by status, completions per day, queue depth
// and per-reader throughput. Every chart carries its numbers as text (and data-* attributes) so
// that people without colour vision and tests can read them.
import { useState } from "react";
import { ErrorAlert, Loading } from "../../components/ui";
import { useAsync } from "../../hooks/useAsync";
import { getProgress } from "../../labeling/taskApi";
import { TASK_STATUSES, type DayCount, type Progress } from "../../labeling/taskTypes";
import { formatDate, formatDuration } from "../../labeling/taskView";
import type { Project } from "../../types";

const WINDOWS = [7, 30, 90, 365];

const STATUS_COLORS: Record<string, string> = {
  new: "#4cc2ff",
  in_progress: "#f5b73b",
  in_review: "#b48cff",
  done: "#4fd18b",
  skipped: "#7a8290",
};

export function ProgressTab({ project }: { project: Project }) {
  const [days, setDays] = useState(30);
  const progress = useAsync((signal) => getProgress(project.id, days, signal), [project.id, days]);
  const p = progress.data;

  return (
    <div data-testid="progress-tab" className={progress.loading && p ? "is-loading" : undefined}>
      <div className="toolbar">
        <label className="field-inline">
          Window
          <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="progress-days">
            {WINDOWS.map((d) => (
              <option key={d} value={d}>
                Last {d} days
              </option>
            ))}
          </select>
        </label>
        {p && (
          <span className="muted">
            {formatDate(p.since)} – {formatDate(p.until)}
          </span>
        )}
        <span className="spacer" />
        <button type="button" className="btn-ghost" onClick={progress.reload} data-testid="progress-reload">
          Refresh
        </button>
      </div>
      <ErrorAlert error={progress.error} />
      {!p ? (
        !progress.error && <Loading />
      ) : (
        <>
          <QueueFigures progress={p} />
          <div className="chart-grid">
            <section className="card chart-card">
              <h3>Tasks by status</h3>
              <StatusBars progress={p} />
              <p className="muted small">
                {p.total_tasks} task(s) in all · {p.tasks_by_status.done ?? 0} done
              </p>
            </section>
            <section className="card chart-card chart-wide">
              <h3>Completed per day</h3>
              <PerDayChart perDay={p.per_day} />
            </section>
          </div>
          <ReaderTable progress={p} />
        </>
      )}
    </div>
  );
}

function QueueFigures({ progress: p }: { progress: Progress }) {
  const done = p.tasks_by_status.done ?? 0;
  const closed = done + (p.tasks_by_status.skipped ?? 0);
  const pct = p.total_tasks ? Math.round((closed / p.total_tasks) * 100) : 0;
  const figures = [
    { id: "total", label: "Tasks", value: p.total_tasks, hint: `${pct} % closed` },
    { id: "done", label: "Done", value: done, hint: "" },
    { id: "queue-depth", label: "Queue depth", value: p.queue_depth, hint: "open slots + not started" },
    { id: "open-slots", label: "Open slots", value: p.open_slots, hint: "nobody holds them" },
    { id: "not-started", label: "Not started", value: p.not_started, hint: "assigned, not opened" },
  ];
  return (
    <div className="figures" data-testid="progress-figures">
      {figures.map((f) => (
        <div key={f.id} className="figure" data-testid={`figure-${f.id}`} data-value={f.value}>
          <div className="figure-value" data-testid={`figure-${f.id}-value`}>
            {f.value}
          </div>
          <div className="figure-label">{f.label}</div>
          {f.hint && <div className="muted small">{f.hint}</div>}
        </div>
      ))}
    </div>
  );
}

/** Horizontal bars, one per task status, value written beside each bar. */
function StatusBars({ progress: p }: { progress: Progress }) {
  const rows = TASK_STATUSES.map((s) => ({ ...s, value: p.tasks_by_status[s.code] ?? 0 }));
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 26;
  const labelW = 90;
  const barW = 240;
  const width = labelW + barW + 50;
  const height = rows.length * rowH + 4;
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      role="img"
      aria-label={`Tasks by status: ${rows.map((r) => `${r.name} ${r.value}`).join(", ")}`}
      data-testid="chart-status"
      data-total={p.total_tasks}
    >
      {rows.map((r, i) => {
        const y = i * rowH + 2;
        const w = (r.value / max) * barW;
        return (
          <g key={r.code} data-testid={`status-bar-${r.code}`} data-value={r.value}>
            <title>{`${r.name}: ${r.value}`}</title>
            <text x={labelW - 8} y={y + rowH / 2 + 4} textAnchor="end" className="chart-label">
              {r.name}
            </text>
            <rect x={labelW} y={y + 4} width={barW} height={rowH - 8} className="chart-track" rx={3} />
            <rect x={labelW} y={y + 4} width={Math.max(r.value ? 2 : 0, w)} height={rowH - 8} fill={STATUS_COLORS[r.code]} rx={3} />
            <text x={labelW + barW + 8} y={y + rowH / 2 + 4} className="chart-value" data-testid={`status-value-${r.code}`}>
              {r.value}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Readings completed (bars) and tasks done (line) per day over the window. */
function PerDayChart({ perDay }: { perDay: DayCount[] }) {
  const totalReadings = perDay.reduce((n, d) => n + d.readings_completed, 0);
  const totalDone = perDay.reduce((n, d) => n + d.tasks_done, 0);
  const max = Math.max(1, ...perDay.map((d) => Math.max(d.readings_completed, d.tasks_done)));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const W = 560;
  const H = 200;
  const left = 34;
  const bottom = 22;
  const plotW = W - left - 8;
  const plotH = H - bottom - 8;
  const n = Math.max(1, perDay.length);
  const step = plotW / n;
  const barW = Math.max(1, Math.min(18, step * 0.7));
  const x = (i: number) => left + i * step + step / 2;
  const y = (v: number) => 8 + plotH - (v / top) * plotH;
  const line = perDay.map((d, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(d.tasks_done).toFixed(1)}`).join(" ");
  const labelEvery = Math.ceil(n / 6);

  return (
    <div data-testid="chart-per-day" data-readings={totalReadings} data-tasks-done={totalDone}>
      <div className="chart-legend">
        <span className="legend-item">
          <span className="legend-swatch" style={{ background: "#4cc2ff" }} />
          Readings completed: <strong data-testid="per-day-readings-total">{totalReadings}</strong>
        </span>
        <span className="legend-item">
          <span className="legend-swatch legend-line" style={{ background: "#4fd18b" }} />
          Tasks done: <strong data-testid="per-day-done-total">{totalDone}</strong>
        </span>
      </div>
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        role="img"
        aria-label={`Per day over ${perDay.length} days: ${totalReadings} readings completed, ${totalDone} tasks done`}
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={left} x2={W - 8} y1={y(t)} y2={y(t)} className="chart-grid-line" />
            <text x={left - 6} y={y(t) + 4} textAnchor="end" className="chart-axis">
              {t}
            </text>
          </g>
        ))}
        {perDay.map((d, i) => (
          <g key={d.day} data-testid="per-day" data-day={d.day} data-readings={d.readings_completed} data-tasks-done={d.tasks_done}>
            <title>{`${formatDate(d.day)}: ${d.readings_completed} reading(s) completed, ${d.tasks_done} task(s) done`}</title>
            <rect x={x(i) - step / 2} y={8} width={step} height={plotH} fill="transparent" />
            {d.readings_completed > 0 && (
              <rect x={x(i) - barW / 2} y={y(d.readings_completed)} width={barW} height={y(0) - y(d.readings_completed)} fill="#4cc2ff" rx={2} />
            )}
            {i % labelEvery === 0 && (
              <text x={x(i)} y={H - 6} textAnchor="middle" className="chart-axis">
                {d.day.slice(5)}
              </text>
            )}
          </g>
        ))}
        {perDay.length > 1 && <path d={line} fill="none" stroke="#4fd18b" strokeWidth={2} />}
        {perDay.map((d, i) =>
          d.tasks_done > 0 ? <circle key={d.day} cx={x(i)} cy={y(d.tasks_done)} r={3} fill="#4fd18b" /> : null,
        )}
      </svg>
    </div>
  );
}

/** 0 and 3-5 round steps up to at least `max`. */
function niceTicks(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const stepInt = Math.max(1, Math.round(step));
  const out: number[] = [];
  for (let v = 0; v <= max + stepInt - 1 && out.length < 8; v += stepInt) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + stepInt);
  return out;
}

function ReaderTable({ progress: p }: { progress: Progress }) {
  const fmt = (v: number | null, digits = 2) => (v == null ? "—" : v.toFixed(digits));
  const maxCompleted = Math.max(1, ...p.readers.map((r) => r.completed));
  return (
    <section className="reader-progress">
      <h3>{p.all_readers ? "Readers" : "Your work"}</h3>
      {p.readers.length === 0 ? (
        <div className="empty" data-testid="reader-progress-empty">
          No reader holds a task yet.
        </div>
      ) : (
        <table className="table" data-testid="reader-table">
          <thead>
            <tr>
              <th>Reader</th>
              <th className="num">Assigned</th>
              <th className="num">In progress</th>
              <th className="num">Submitted</th>
              <th className="num">Returned</th>
              <th className="num">Accepted</th>
              <th>Completed in window</th>
              <th className="num">Tasks / day</th>
              <th className="num">Per active day</th>
              <th className="num">Median active time</th>
              <th className="num">Mean time to submit</th>
            </tr>
          </thead>
          <tbody>
            {p.readers.map((r) => (
              <tr key={r.reader_id} data-testid="reader-row" data-reader={r.username}>
                <td>{r.username}</td>
                <td className="num" data-testid="reader-assigned">
                  {r.assigned}
                </td>
                <td className="num" data-testid="reader-in-progress">
                  {r.in_progress}
                </td>
                <td className="num" data-testid="reader-submitted">
                  {r.submitted}
                </td>
                <td className="num" data-testid="reader-returned">
                  {r.returned}
                </td>
                <td className="num" data-testid="reader-accepted">
                  {r.accepted}
                </td>
                <td>
                  <span className="inline-bar" aria-hidden="true">
                    <span style={{ width: `${(r.completed / maxCompleted) * 100}%` }} />
                  </span>{" "}
                  <span data-testid="reader-completed">{r.completed}</span>
                </td>
                <td className="num" data-testid="reader-per-day">
                  {fmt(r.tasks_per_day)}
                </td>
                <td className="num">{fmt(r.tasks_per_active_day)}</td>
                <td className="num" data-testid="reader-median-active">
                  {formatDuration(r.median_active_seconds)}
                </td>
                <td className="num">{formatDuration(r.mean_seconds_to_submit)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
