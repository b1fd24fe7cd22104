// The project's Models tab: the registry (activate, metrics with the validation Dice curve),
// pre-annotation with the job's progress, each version's predictions and correction analytics,
// and the manager forms (built-in, TorchScript upload, training). Members read; managers act.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api";
import { Alert, Badge, ErrorAlert, Loading, formatDateTime } from "../components/ui";
import { JobProgress } from "../components/ProgressBar";
import { useAsync } from "../hooks/useAsync";
import { useJobPoll } from "../hooks/useJobPoll";
import type { Job, LabelSchema, Project } from "../types";
import { AnalyticsTable } from "./AnalyticsTable";
import { AddBuiltinForm, RegisterTorchScriptForm, TrainForm } from "./ModelForms";
import { modelsApi, type RegisteredModel } from "./modelsApi";

const SOURCE_NAMES: Record<string, string> = { builtin: "Built-in", torchscript: "TorchScript", trained: "Trained" };

/** Validation Dice per epoch as a small line chart (the Progress tab's chart style). */
export function DiceChart({ values, testId }: { values: number[]; testId?: string }) {
  if (!values.length) return null;
  const W = 160;
  const H = 48;
  const x = (i: number) => 4 + (values.length > 1 ? (i / (values.length - 1)) * (W - 8) : (W - 8) / 2);
  const y = (v: number) => H - 4 - Math.max(0, Math.min(1, v)) * (H - 8);
  const line = values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const best = Math.max(...values);
  return (
    <svg className="chart chart-spark" viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" data-testid={testId}
      aria-label={`Validation Dice over ${values.length} epochs, best ${best.toFixed(3)}`}>
      <line x1={4} x2={W - 4} y1={y(0)} y2={y(0)} className="chart-grid-line" />
      <line x1={4} x2={W - 4} y1={y(1)} y2={y(1)} className="chart-grid-line" />
      <path d={line} fill="none" stroke="#4fd18b" strokeWidth={2} />
      {values.map((v, i) => (
        <circle key={i} cx={x(i)} cy={y(v)} r={2} fill="#4fd18b">
          <title>{`epoch ${i + 1}: Dice ${v.toFixed(3)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

function Metrics({ model }: { model: RegisteredModel }) {
  const m = model.metrics;
  const curve = Array.isArray(m.val_dice_per_epoch) ? (m.val_dice_per_epoch as number[]) : [];
  const best = typeof m.best_val_dice === "number" ? m.best_val_dice : null;
  const other = Object.entries(m).filter(([, v]) => typeof v === "number").slice(0, 3);
  return (
    <div className="small">
      {best != null && <div>best val Dice <strong>{best.toFixed(3)}</strong></div>}
      {best == null && other.map(([k, v]) => <div key={k}>{k} {Number(v).toFixed(3)}</div>)}
      <DiceChart values={curve} testId={`dice-chart-${model.id}`} />
    </div>
  );
}

function Predictions({ projectId, model, refresh }: { projectId: number; model: RegisteredModel; refresh: number }) {
  const page = useAsync((signal) => modelsApi.predictions(projectId, model.id, signal), [projectId, model.id, refresh]);
  if (page.error) return <ErrorAlert error={page.error} />;
  if (!page.data) return <Loading />;
  if (!page.data.results.length) return <p className="muted small">No predictions yet.</p>;
  return (
    <table className="table table-compact" data-testid={`predictions-${model.id}`}>
      <thead>
        <tr>
          <th>Task</th>
          <th>Status</th>
          <th>Seconds</th>
          <th>Device</th>
          <th>Score / uncertainty</th>
          <th>When</th>
        </tr>
      </thead>
      <tbody>
        {page.data.results.map((p) => (
          <tr key={p.id} data-testid="prediction" data-status={p.status}>
            <td>
              <a href={`/projects/${projectId}/tasks/${p.task}`}>Task {p.task}</a>
            </td>
            <td>
              <Badge kind={p.status === "failed" ? "danger" : p.status === "succeeded" ? "succeeded" : "neutral"}>{p.status}</Badge>
              {p.error && <div className="alert alert-error pre-wrap small" data-testid="prediction-error">{p.error}</div>}
            </td>
            <td className="mono">{p.seconds != null ? p.seconds.toFixed(2) : "—"}</td>
            <td>{p.device || "—"}</td>
            <td className="mono">
              {p.score != null ? p.score.toFixed(2) : "—"} / {p.uncertainty != null ? p.uncertainty.toFixed(2) : "—"}
            </td>
            <td className="small">{formatDateTime(p.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PreannotateButtons({ projectId, model, onFinished }: { projectId: number; model: RegisteredModel; onFinished(): void }) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const poll = useJobPoll(job?.id ?? null, job);
  const finished = poll.job && (poll.job.state === "succeeded" || poll.job.state === "failed") ? poll.job.id : null;
  useEffect(() => {
    if (finished != null) onFinished(); // predictions and analytics changed
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished]);

  const run = async (all: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const body = all ? { task_ids: await modelsApi.allTaskIds(projectId) } : ({ unlabeled: true } as const);
      setJob(await modelsApi.predict(projectId, model.id, body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="preannotate" data-testid={`preannotate-${model.id}`}>
      <button type="button" disabled={busy || poll.active} onClick={() => void run(false)} data-testid={`preannotate-unlabeled-${model.id}`}>
        Pre-annotate unlabeled
      </button>{" "}
      <button type="button" disabled={busy || poll.active} onClick={() => void run(true)} data-testid={`preannotate-all-${model.id}`}>
        Pre-annotate all
      </button>
      <ErrorAlert error={error} testId={`preannotate-error-${model.id}`} />
      {poll.job && <JobProgress job={poll.job} testId={`preannotate-job-${model.id}`} />}
    </div>
  );
}

export function ModelsTab({ project }: { project: Project }) {
  const isManager = project.my_role === "manager";
  const [refresh, setRefresh] = useState(0);
  const bump = () => setRefresh((n) => n + 1);
  const models = useAsync((signal) => modelsApi.list(project.id, signal), [project.id, refresh]);
  const builtins = useAsync((signal) => modelsApi.builtins(project.id, signal), [project.id]);
  const schema = useAsync((signal) => api.get<LabelSchema>(`projects/${project.id}/schema/`, undefined, signal), [project.id]);
  const analytics = useAsync((signal) => modelsApi.analytics(project.id, signal), [project.id, refresh]);
  const [toggleError, setToggleError] = useState<unknown>(null);
  const [open, setOpen] = useState<number | null>(null);
  const maskLabels = (schema.data?.labels ?? []).filter((l) => l.kind === "mask");

  const setActive = async (model: RegisteredModel, active: boolean) => {
    setToggleError(null);
    try {
      await modelsApi.setActive(project.id, model, active);
    } catch (err) {
      setToggleError(err);
    }
    bump(); // a 409 means someone else changed it: show what is stored now
  };

  return (
    <div data-testid="models-tab">
      <div className="card">
        <h3>Registered models</h3>
        {toggleError instanceof ApiError && toggleError.status === 409 ? (
          <Alert kind="warning" testId="model-conflict">
            Someone else changed this model meanwhile; the table shows what is stored now. Try again if still needed.
          </Alert>
        ) : (
          <ErrorAlert error={toggleError} testId="model-toggle-error" />
        )}
        <ErrorAlert error={models.error} />
        {!models.data && !models.error && <Loading />}
        {models.data && !models.data.length && <p className="muted" data-testid="no-models">No model registered yet.</p>}
        {models.data && models.data.length > 0 && (
          <table className="table" data-testid="model-table">
            <thead>
              <tr>
                <th>Model</th>
                <th>Kind</th>
                <th>Source</th>
                <th>Outputs → labels</th>
                <th>Active</th>
                <th>Metrics</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {models.data.map((m) => (
                <tr key={m.id} data-testid="model-row" data-model-id={m.id} data-tag={m.tag}>
                  <td>
                    <strong>{m.name}</strong> <span className="mono">v{m.version}</span>
                    <div className="muted small">{m.created_by ? `by ${m.created_by}` : ""} {formatDateTime(m.created_at)}</div>
                  </td>
                  <td>{m.kind.replace("_", " ")}</td>
                  <td>{SOURCE_NAMES[m.source] ?? m.source}{m.builtin ? ` (${m.builtin})` : ""}</td>
                  <td className="small mono">
                    {Object.entries(m.label_map).map(([k, v]) => `${k}→${v}`).join(", ") || "—"}
                  </td>
                  <td>
                    <input
                      type="checkbox"
                      checked={m.active}
                      disabled={!isManager}
                      onChange={(e) => void setActive(m, e.target.checked)}
                      aria-label={`${m.tag} active`}
                      data-testid={`model-active-${m.id}`}
                    />
                  </td>
                  <td>
                    <Metrics model={m} />
                  </td>
                  <td>
                    <button type="button" className="btn-ghost" onClick={() => setOpen(open === m.id ? null : m.id)} data-testid={`model-open-${m.id}`}>
                      {open === m.id ? "Hide" : "Predictions"}
                    </button>
                    {isManager && <PreannotateButtons projectId={project.id} model={m} onFinished={bump} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {open != null && models.data?.some((m) => m.id === open) && (
          <div data-testid="model-detail">
            <h4>Predictions of {models.data.find((m) => m.id === open)?.tag}</h4>
            <Predictions projectId={project.id} model={models.data.find((m) => m.id === open)!} refresh={refresh} />
          </div>
        )}
      </div>

      <div className="card">
        <h3>Correction analytics</h3>
        <p className="muted small">
          Per model version, over its pre-annotated tasks that are done: how many pre-annotated findings the experts handed in
          unchanged, Dice and 95th-percentile Hausdorff distance between the model's masks and the final masks, and the active
          time of readings that started from the model against readings that started blank.
        </p>
        <ErrorAlert error={analytics.error} />
        {analytics.data && <AnalyticsTable rows={analytics.data} />}
      </div>

      {isManager && builtins.data && schema.data && (
        <div className="grid-2">
          <AddBuiltinForm projectId={project.id} maskLabels={maskLabels} builtins={builtins.data} onDone={bump} />
          <TrainForm projectId={project.id} maskLabels={maskLabels} onDone={bump} />
          <RegisterTorchScriptForm projectId={project.id} maskLabels={maskLabels} onDone={bump} />
        </div>
      )}
    </div>
  );
}
