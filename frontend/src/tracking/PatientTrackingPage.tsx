// One patient's lesion tracks over time: measurements per study, the sum of diameters, and
// the RECIST 1.1 response against baseline and nadir (computed by the server).
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { ApiError, api, errorMessage, getAll } from "../api";
import { Alert, Badge, ErrorAlert, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import { RESPONSE_NAMES, type LesionTrack, type Patient, type PatientStudy, type Recist } from "./types";

const mm = (value: number | null | undefined) => (value == null ? "—" : `${value.toFixed(1)} mm`);
const pct = (value: number | null | undefined) =>
  value == null ? "—" : `${value > 0 ? "+" : ""}${value.toFixed(1)} %`;
const studyLabel = (s: PatientStudy | undefined) =>
  s ? `${s.study_date ?? "undated"}${s.description ? ` · ${s.description}` : ""}` : "—";

export function PatientTrackingPage() {
  const { projectId = "", patientId = "" } = useParams();
  const base = `projects/${projectId}/`;
  const patient = useAsync((signal) => api.get<Patient>(`${base}patients/${patientId}/`, undefined, signal), [
    projectId,
    patientId,
  ]);
  const recist = useAsync((signal) => api.get<Recist>(`${base}patients/${patientId}/recist/`, undefined, signal), [
    projectId,
    patientId,
  ]);
  const tracks = useAsync(
    (signal) => getAll<LesionTrack>(`${base}lesion-tracks/`, { patient: patientId }, signal),
    [projectId, patientId],
  );
  const [error, setError] = useState<unknown>(null);
  const reload = () => {
    recist.reload();
    tracks.reload();
  };
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      reload();
    }
  };

  if (patient.error) return <ErrorAlert error={patient.error} />;
  if (!patient.data || !recist.data || !tracks.data) return <Loading />;
  const studies = new Map(patient.data.studies.map((s) => [s.id, s]));

  return (
    <div data-testid="tracking-page">
      <div className="page-header">
        <div>
          <div className="breadcrumb">
            <Link to={`/projects/${projectId}`}>Project</Link> / <Link to={`/projects/${projectId}/patients`}>Patients</Link> /
          </div>
          <h1 data-testid="tracking-patient">{patient.data.pseudonym}</h1>
          <div className="muted small">
            {patient.data.studies.length} studies · {tracks.data.length} lesion track(s)
          </div>
        </div>
      </div>
      {error != null && (
        <Alert kind="error" testId="tracking-error">
          {error instanceof ApiError && error.isStale ? "This track was changed elsewhere; it has been reloaded." : errorMessage(error)}
        </Alert>
      )}
      <RecistTable recist={recist.data} studies={studies} />
      <h2>Lesion tracks</h2>
      <NewTrackForm onCreate={(body) => act(() => api.post(`${base}lesion-tracks/`, { ...body, patient: Number(patientId) }))} />
      {tracks.data.map((track) => (
        <TrackCard
          key={track.id}
          track={track}
          studies={patient.data!.studies}
          onPatch={(changes) => act(() => api.patch(`${base}lesion-tracks/${track.id}/`, { version: track.version, ...changes }))}
          onDelete={() => act(() => api.del(`${base}lesion-tracks/${track.id}/`))}
          onMeasure={(body) => act(() => api.post(`${base}lesion-tracks/${track.id}/measurements/`, body))}
          onRemoveMeasurement={(id) => act(() => api.del(`${base}lesion-tracks/${track.id}/measurements/${id}/`))}
        />
      ))}
    </div>
  );
}

function RecistTable({ recist, studies }: { recist: Recist; studies: Map<number, PatientStudy> }) {
  if (recist.time_points.length === 0) {
    return (
      <p className="muted" data-testid="recist-empty">
        No measurements yet. Create a lesion track and measure it at each study.
      </p>
    );
  }
  const names = new Map<number, { name: string; nodal: boolean; target: boolean }>();
  recist.time_points.forEach((tp) => tp.lesions.forEach((l) => names.set(l.track, l)));
  return (
    <div className="table-scroll">
      <table className="table recist" data-testid="recist-table">
        <thead>
          <tr>
            <th>Lesion</th>
            {recist.time_points.map((tp) => (
              <th key={tp.study} data-testid={`recist-col-${tp.study}`}>
                {studyLabel(studies.get(tp.study))}
                {tp.baseline && (
                  <>
                    {" "}
                    <Badge>baseline</Badge>
                  </>
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...names.entries()].map(([track, info]) => (
            <tr key={track}>
              <td>
                {info.name} {info.nodal && <Badge>node</Badge>} {!info.target && <Badge>non-target</Badge>}
              </td>
              {recist.time_points.map((tp) => {
                const lesion = tp.lesions.find((l) => l.track === track);
                const missing = tp.missing.includes(track);
                return (
                  <td key={tp.study} className={missing ? "missing" : undefined} data-testid={`recist-cell-${track}-${tp.study}`}>
                    {lesion?.long_axis_mm != null ? (
                      <>
                        {lesion.long_axis_mm.toFixed(1)}
                        {lesion.short_axis_mm != null && ` × ${lesion.short_axis_mm.toFixed(1)}`} mm
                        {lesion.counted_mm != null && <div className="muted small">counts {lesion.counted_mm.toFixed(1)}</div>}
                      </>
                    ) : missing ? (
                      "not measured"
                    ) : (
                      "—"
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th>Sum of diameters</th>
            {recist.time_points.map((tp) => (
              <td key={tp.study} data-testid={`recist-sum-${tp.study}`}>
                {mm(tp.sum_mm)}
              </td>
            ))}
          </tr>
          <tr>
            <th>Change from baseline / nadir</th>
            {recist.time_points.map((tp) => (
              <td key={tp.study}>
                {tp.baseline ? "—" : `${pct(tp.change_from_baseline_pct)} / ${pct(tp.change_from_nadir_pct)}`}
              </td>
            ))}
          </tr>
          <tr>
            <th>Response (RECIST 1.1)</th>
            {recist.time_points.map((tp) => (
              <td key={tp.study} data-testid={`recist-response-${tp.study}`}>
                {tp.response ? (
                  <span className={`badge badge-recist-${tp.response}`} title={RESPONSE_NAMES[tp.response]}>
                    {tp.response}
                  </span>
                ) : (
                  "—"
                )}
              </td>
            ))}
          </tr>
        </tfoot>
      </table>
      {recist.warnings.length > 0 && (
        <Alert kind="warning" testId="recist-warnings">
          <ul>
            {recist.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Alert>
      )}
    </div>
  );
}

function NewTrackForm({ onCreate }: { onCreate(body: { name: string; nodal: boolean; target: boolean }): Promise<void> }) {
  const [name, setName] = useState("");
  const [nodal, setNodal] = useState(false);
  const [target, setTarget] = useState(true);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    await onCreate({ name: name.trim(), nodal, target });
    setName("");
  };
  return (
    <form className="inline-form" onSubmit={submit} data-testid="track-new">
      <input placeholder="Lesion name, e.g. Liver segment 7" value={name} onChange={(e) => setName(e.target.value)} data-testid="track-new-name" />
      <label className="checkbox">
        <input type="checkbox" checked={nodal} onChange={(e) => setNodal(e.target.checked)} data-testid="track-new-nodal" /> Lymph node
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={target} onChange={(e) => setTarget(e.target.checked)} /> Target lesion
      </label>
      <button type="submit" className="btn btn-primary" data-testid="track-new-submit">
        Add lesion track
      </button>
    </form>
  );
}

interface TrackCardProps {
  track: LesionTrack;
  studies: PatientStudy[];
  onPatch(changes: Partial<Pick<LesionTrack, "name" | "nodal" | "target">>): Promise<void>;
  onDelete(): Promise<void>;
  onMeasure(body: Record<string, unknown>): Promise<void>;
  onRemoveMeasurement(id: number): Promise<void>;
}

function TrackCard({ track, studies, onPatch, onDelete, onMeasure, onRemoveMeasurement }: TrackCardProps) {
  const [study, setStudy] = useState<number>(studies[0]?.id ?? 0);
  const [longAxis, setLongAxis] = useState("");
  const [shortAxis, setShortAxis] = useState("");
  const [finding, setFinding] = useState("");
  const byStudy = new Map(studies.map((s) => [s.id, s]));
  const measure = async (e: FormEvent) => {
    e.preventDefault();
    if (finding.trim()) {
      await onMeasure({ annotation: Number(finding) });
    } else {
      await onMeasure({
        study,
        long_axis_mm: Number(longAxis),
        ...(shortAxis ? { short_axis_mm: Number(shortAxis) } : {}),
      });
    }
    setLongAxis("");
    setShortAxis("");
    setFinding("");
  };
  return (
    <section className="card track" data-testid={`track-${track.id}`}>
      <header className="track-header">
        <strong data-testid={`track-name-${track.id}`}>{track.name}</strong>
        <label className="checkbox">
          <input type="checkbox" checked={track.nodal} onChange={(e) => onPatch({ nodal: e.target.checked })} /> node
        </label>
        <label className="checkbox">
          <input type="checkbox" checked={track.target} onChange={(e) => onPatch({ target: e.target.checked })} /> target
        </label>
        <button
          type="button"
          className="btn btn-ghost btn-small"
          onClick={() => {
            const name = window.prompt("Rename the lesion", track.name);
            if (name && name.trim() && name.trim() !== track.name) void onPatch({ name: name.trim() });
          }}
        >
          Rename
        </button>
        <button
          type="button"
          className="btn btn-danger btn-small"
          onClick={() => window.confirm(`Delete ${track.name} and its measurements?`) && void onDelete()}
          data-testid={`track-delete-${track.id}`}
        >
          Delete
        </button>
      </header>
      <ul className="measurements">
        {track.measurements.map((m) => (
          <li key={m.id} data-testid={`measurement-${m.id}`}>
            {studyLabel(byStudy.get(m.study))}: {mm(m.long_axis_mm)}
            {m.short_axis_mm != null && ` × ${mm(m.short_axis_mm)}`}{" "}
            {m.annotation ? <span className="muted small">(finding #{m.annotation})</span> : <span className="muted small">(manual)</span>}
            <button type="button" className="btn btn-ghost btn-small" onClick={() => void onRemoveMeasurement(m.id)}>
              remove
            </button>
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={measure} data-testid={`track-measure-${track.id}`}>
        <select value={study} onChange={(e) => setStudy(Number(e.target.value))} data-testid={`track-study-${track.id}`}>
          {studies.map((s) => (
            <option key={s.id} value={s.id}>
              {studyLabel(s)}
            </option>
          ))}
        </select>
        <input type="number" min={0} step="0.1" placeholder="long axis mm" value={longAxis} onChange={(e) => setLongAxis(e.target.value)} data-testid={`track-long-${track.id}`} />
        <input type="number" min={0} step="0.1" placeholder="short axis mm" value={shortAxis} onChange={(e) => setShortAxis(e.target.value)} />
        <span className="muted small">or finding #</span>
        <input type="number" min={1} placeholder="id" value={finding} onChange={(e) => setFinding(e.target.value)} className="input-narrow" />
        <button type="submit" className="btn btn-primary" data-testid={`track-measure-submit-${track.id}`}>
          Save measurement
        </button>
      </form>
    </section>
  );
}
