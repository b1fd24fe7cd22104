// Correction analytics per model version (definitions in ml_assist/analytics.py).
import type { ModelAnalytics } from "./modelsApi";

const pct = (v: number | null) => (v == null ? "—" : `${Math.round(v * 100)} %`);
const num = (v: number | null, digits = 3) => (v == null ? "—" : v.toFixed(digits));
const secs = (v: number | null) => (v == null ? "—" : v < 90 ? `${Math.round(v)} s` : `${(v / 60).toFixed(1)} min`);

export function AnalyticsTable({ rows }: { rows: ModelAnalytics[] }) {
  if (!rows.length) return <p className="muted">No model version yet.</p>;
  return (
    <table className="table" data-testid="analytics-table">
      <thead>
        <tr>
          <th>Version</th>
          <th>Tasks (done / compared)</th>
          <th>Accepted unchanged</th>
          <th>Dice (mean) per label</th>
          <th>HD95 mm (mean)</th>
          <th>Editing time, median (with model / without)</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => (
          <tr key={a.model_id} data-testid="analytics-row" data-model-id={a.model_id}>
            <td className="mono">{a.tag}</td>
            <td>
              {a.tasks_predicted} predicted · {a.tasks_done} done · {a.tasks_compared} compared
            </td>
            <td data-testid="analytics-unchanged">
              {pct(a.accepted_unchanged_share)}
              <div className="muted small">
                {a.findings_unchanged} of {a.findings_seeded} findings
              </div>
            </td>
            <td>
              {a.labels.length === 0 && "—"}
              {a.labels.map((l) => (
                <div key={l.label_key} data-testid={`analytics-dice-${l.label_key}`}>
                  {l.label_key}: <strong>{num(l.dice_mean)}</strong>
                  <span className="muted small">
                    {" "}
                    ({l.cases} case{l.cases === 1 ? "" : "s"}
                    {l.missed ? `, ${l.missed} missed` : ""}
                    {l.spurious ? `, ${l.spurious} spurious` : ""})
                  </span>
                </div>
              ))}
            </td>
            <td>
              {a.labels.map((l) => (
                <div key={l.label_key} data-testid={`analytics-hd95-${l.label_key}`}>
                  {l.label_key}: {num(l.hd95_mean_mm, 1)}
                </div>
              ))}
            </td>
            <td data-testid="analytics-editing">
              {secs(a.editing_with_model.median_seconds)} / {secs(a.editing_without_model.median_seconds)}
              <div className="muted small">
                {a.editing_with_model.readings} / {a.editing_without_model.readings} readings
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
