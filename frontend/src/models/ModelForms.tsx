// Manager forms of the Models tab: add a built-in predictor, register a TorchScript upload,
// train a model from the experts' masks (with the job's progress).
import { useEffect, useState, type FormEvent } from "react";
import { Alert, ErrorAlert } from "../components/ui";
import { JobProgress } from "../components/ProgressBar";
import { useJobPoll } from "../hooks/useJobPoll";
import type { Job, Label } from "../types";
import { modelsApi, type Builtin } from "./modelsApi";

interface FormProps {
  projectId: number;
  maskLabels: Label[];
  onDone(): void;
}

/** Map each output of a predictor to a mask label (or leave it out). */
function OutputMapping({
  outputs,
  maskLabels,
  value,
  onChange,
  testId,
}: {
  outputs: string[];
  maskLabels: Label[];
  value: Record<string, string>;
  onChange(next: Record<string, string>): void;
  testId: string;
}) {
  return (
    <div className="field-group" data-testid={testId}>
      {outputs.map((output) => (
        <label key={output} className="field-inline">
          {output} →
          <select
            value={value[output] ?? ""}
            onChange={(e) => {
              const next = { ...value };
              if (e.target.value) next[output] = e.target.value;
              else delete next[output];
              onChange(next);
            }}
            data-testid={`${testId}-${output}`}
          >
            <option value="">(not used)</option>
            {maskLabels.map((l) => (
              <option key={l.key} value={l.key}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
      ))}
    </div>
  );
}

export function AddBuiltinForm({ projectId, maskLabels, builtins, onDone }: FormProps & { builtins: Builtin[] }) {
  const [key, setKey] = useState(builtins[0]?.key ?? "");
  const [name, setName] = useState("");
  const [map, setMap] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const chosen = builtins.find((b) => b.key === key);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await modelsApi.addBuiltin(projectId, { name: name || key, builtin: key, label_map: map });
      setName("");
      setMap({});
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} data-testid="builtin-form">
      <h3>Add built-in model</h3>
      <p className="muted small">Classical predictors that need no weights and no download.</p>
      <ErrorAlert error={error} testId="builtin-error" showFieldErrors />
      <label className="field">
        Predictor
        <select value={key} onChange={(e) => { setKey(e.target.value); setMap({}); }} data-testid="builtin-key">
          {builtins.map((b) => (
            <option key={b.key} value={b.key}>
              {b.key} ({b.modalities.join(", ")})
            </option>
          ))}
        </select>
      </label>
      {chosen && <p className="muted small">{chosen.description}</p>}
      <label className="field">
        Name
        <input value={name} placeholder={key} onChange={(e) => setName(e.target.value)} data-testid="builtin-name" />
      </label>
      {chosen && <OutputMapping outputs={chosen.outputs} maskLabels={maskLabels} value={map} onChange={setMap} testId="builtin-map" />}
      <div className="form-actions">
        <button type="submit" className="btn-primary" disabled={busy || !key} data-testid="builtin-submit">
          {busy ? "Adding…" : "Add model"}
        </button>
      </div>
    </form>
  );
}

export function RegisterTorchScriptForm({ projectId, onDone }: FormProps) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [kind, setKind] = useState("segmentation_2d");
  const [labelMap, setLabelMap] = useState('{"1": ""}');
  const [inputSpec, setInputSpec] = useState('{"modalities": ["CT"], "dims": 2, "in_channels": 1, "window": [-1000, 1000], "size": null, "batch": 16}');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    const form = new FormData();
    form.append("file", file);
    form.append("name", name);
    form.append("kind", kind);
    form.append("label_map", labelMap);
    form.append("input_spec", inputSpec);
    try {
      await modelsApi.registerTorchScript(projectId, form);
      setFile(null);
      setName("");
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} data-testid="torchscript-form">
      <h3>Register TorchScript model</h3>
      <p className="muted small">
        A 2D segmentation network saved with <code>torch.jit.save</code>: (N, 1, H, W) in, logits (N, C, H, W) out; channel 0 is
        background. The label map names the schema mask label of each output channel.
      </p>
      <ErrorAlert error={error} testId="torchscript-error" showFieldErrors />
      <label className="field">
        File (.pt)
        <input type="file" accept=".pt,.pth,.ts" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="torchscript-file" />
      </label>
      <label className="field">
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} data-testid="torchscript-name" required />
      </label>
      <label className="field">
        Kind
        <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="torchscript-kind">
          <option value="segmentation_2d">2D segmentation</option>
          <option value="segmentation_3d">3D segmentation</option>
          <option value="classification">Classification</option>
          <option value="triage">Triage score</option>
        </select>
      </label>
      <label className="field">
        Label map (JSON: channel → mask label key)
        <input className="mono" value={labelMap} onChange={(e) => setLabelMap(e.target.value)} data-testid="torchscript-label-map" />
      </label>
      <label className="field">
        Input spec (JSON)
        <textarea className="mono" rows={2} value={inputSpec} onChange={(e) => setInputSpec(e.target.value)} data-testid="torchscript-input-spec" />
      </label>
      <div className="form-actions">
        <button type="submit" className="btn-primary" disabled={busy || !file || !name} data-testid="torchscript-submit">
          {busy ? "Uploading…" : "Register"}
        </button>
      </div>
    </form>
  );
}

export function TrainForm({ projectId, maskLabels, onDone }: FormProps) {
  const [name, setName] = useState("unet");
  const [labels, setLabels] = useState<string[]>([]);
  const [epochs, setEpochs] = useState(20);
  const [error, setError] = useState<unknown>(null);
  const [started, setStarted] = useState<Job | null>(null);
  const poll = useJobPoll(started?.id ?? null, started);
  const finished = poll.job?.state === "succeeded" ? poll.job.id : null;
  useEffect(() => {
    if (finished != null) onDone(); // the new version appears in the registry
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      setStarted(await modelsApi.train(projectId, { name, labels, epochs }));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} data-testid="train-form">
      <h3>Train a model</h3>
      <p className="muted small">
        A MONAI network trained on the gpu queue from the experts' accepted masks; validation Dice is recorded per epoch and the
        result becomes a new version.
      </p>
      <ErrorAlert error={error} testId="train-error" showFieldErrors />
      <label className="field">
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} data-testid="train-name" />
      </label>
      <fieldset className="field-group">
        <legend>Mask labels</legend>
        {maskLabels.length === 0 && <span className="muted">The schema has no mask label.</span>}
        {maskLabels.map((l) => (
          <label key={l.key} className="field-inline">
            <input
              type="checkbox"
              checked={labels.includes(l.key)}
              onChange={(e) => setLabels(e.target.checked ? [...labels, l.key] : labels.filter((k) => k !== l.key))}
              data-testid={`train-label-${l.key}`}
            />
            {l.name}
          </label>
        ))}
      </fieldset>
      <label className="field">
        Epochs
        <input type="number" min={1} max={500} value={epochs} onChange={(e) => setEpochs(Number(e.target.value))} data-testid="train-epochs" />
      </label>
      <div className="form-actions">
        <button type="submit" className="btn-primary" disabled={poll.active || !labels.length || !name} data-testid="train-submit">
          {poll.active ? "Training…" : "Train"}
        </button>
      </div>
      {poll.job && <JobProgress job={poll.job} testId="train-job" />}
      {poll.error != null && <Alert kind="warning">Lost contact with the job; retrying…</Alert>}
    </form>
  );
}
