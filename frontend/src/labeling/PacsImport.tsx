// Search a remote PACS of the project and pull studies (a job ingesting them like uploads).
import { useState, type FormEvent } from "react";
import { ApiError } from "../api";
import { Alert, ErrorAlert, FieldErrors, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import type { Job, Project } from "../types";
import { IngestJob } from "./IngestReport";
import { createPacs, listPacs, pullPacs, searchPacs } from "./taskApi";
import type { PacsConnection, PacsConnectionInput, PacsSearch, PacsStudy } from "./taskTypes";

export function PacsSection({ project }: { project: Project }) {
  const connections = useAsync((signal) => listPacs(project.id, signal), [project.id]);
  const [selected, setSelected] = useState<number | null>(null);
  const [adding, setAdding] = useState(false);
  const list = connections.data ?? [];
  const chosen = list.find((c) => c.id === selected) ?? list[0] ?? null;

  return (
    <section className="card import-section" data-testid="pacs-section">
      <div className="section-head">
        <h2>Pull from a PACS</h2>
        <span className="spacer" />
        <button type="button" className="btn-ghost" onClick={() => setAdding((v) => !v)} data-testid="pacs-add-toggle">
          {adding ? "Close" : "Add connection"}
        </button>
      </div>
      <ErrorAlert error={connections.error} />
      {adding && (
        <PacsConnectionForm
          project={project}
          onCreated={(c) => {
            connections.setData((prev) => [...(prev ?? []), c]);
            setSelected(c.id);
            setAdding(false);
          }}
        />
      )}
      {!connections.data ? (
        !connections.error && <Loading />
      ) : list.length === 0 ? (
        !adding && (
          <div className="empty" data-testid="pacs-empty">
            No PACS connection yet. Add one to search and pull studies.
          </div>
        )
      ) : (
        <>
          <label className="field-inline">
            Connection
            <select value={chosen?.id ?? ""} onChange={(e) => setSelected(Number(e.target.value))} data-testid="pacs-connection">
              {list.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.kind === "dicomweb" ? c.base_url : `${c.called_ae_title}@${c.host}:${c.port ?? ""}`})
                </option>
              ))}
            </select>
          </label>
          {chosen && <PacsSearchPanel key={chosen.id} project={project} connection={chosen} />}
        </>
      )}
    </section>
  );
}

function PacsConnectionForm({ project, onCreated }: { project: Project; onCreated(c: PacsConnection): void }) {
  const [form, setForm] = useState<PacsConnectionInput>({
    name: "",
    kind: "dicomweb",
    base_url: "",
    auth_header: "",
    host: "",
    port: 104,
    called_ae_title: "",
    calling_ae_title: "",
    retrieve_method: "c-get",
    move_destination: "",
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof PacsConnectionInput>(k: K, v: PacsConnectionInput[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: PacsConnectionInput =
      form.kind === "dicomweb"
        ? { name: form.name, kind: form.kind, base_url: form.base_url, auth_header: form.auth_header || undefined }
        : {
            name: form.name,
            kind: form.kind,
            host: form.host,
            port: form.port,
            called_ae_title: form.called_ae_title,
            calling_ae_title: form.calling_ae_title,
            retrieve_method: form.retrieve_method,
            move_destination: form.retrieve_method === "c-move" ? form.move_destination : "",
          };
    try {
      onCreated(await createPacs(project.id, body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const errs = error instanceof ApiError ? error.errors : {};
  return (
    <form className="pacs-form" onSubmit={(e) => void submit(e)} noValidate data-testid="pacs-form">
      <div className="form-row">
        <label className="field">
          <span>Name</span>
          <input value={form.name} onChange={(e) => set("name", e.target.value)} data-testid="pacs-name" />
          <FieldErrors messages={errs.name} />
        </label>
        <label className="field">
          <span>Kind</span>
          <select value={form.kind} onChange={(e) => set("kind", e.target.value)} data-testid="pacs-kind">
            <option value="dicomweb">DICOMweb (QIDO-RS / WADO-RS)</option>
            <option value="dimse">DIMSE (C-FIND / C-GET / C-MOVE)</option>
          </select>
        </label>
      </div>
      {form.kind === "dicomweb" ? (
        <div className="form-row">
          <label className="field">
            <span>Base URL</span>
            <input
              value={form.base_url}
              onChange={(e) => set("base_url", e.target.value)}
              placeholder="https://pacs.example.org/dicom-web"
              data-testid="pacs-base-url"
            />
            <FieldErrors messages={errs.base_url} />
          </label>
          <label className="field">
            <span>Authorization header (optional, never shown again)</span>
            <input
              type="password"
              value={form.auth_header}
              onChange={(e) => set("auth_header", e.target.value)}
              autoComplete="off"
              data-testid="pacs-auth"
            />
            <FieldErrors messages={errs.auth_header} />
          </label>
        </div>
      ) : (
        <>
          <div className="form-row">
            <label className="field">
              <span>Host</span>
              <input value={form.host} onChange={(e) => set("host", e.target.value)} data-testid="pacs-host" />
              <FieldErrors messages={errs.host} />
            </label>
            <label className="field field-narrow">
              <span>Port</span>
              <input
                type="number"
                value={form.port ?? ""}
                onChange={(e) => set("port", e.target.value ? Number(e.target.value) : null)}
                data-testid="pacs-port"
              />
              <FieldErrors messages={errs.port} />
            </label>
            <label className="field">
              <span>Called AE title</span>
              <input value={form.called_ae_title} onChange={(e) => set("called_ae_title", e.target.value)} data-testid="pacs-called-ae" />
              <FieldErrors messages={errs.called_ae_title} />
            </label>
            <label className="field">
              <span>Calling AE title</span>
              <input value={form.calling_ae_title} onChange={(e) => set("calling_ae_title", e.target.value)} data-testid="pacs-calling-ae" />
              <FieldErrors messages={errs.calling_ae_title} />
            </label>
          </div>
          <div className="form-row">
            <label className="field">
              <span>Retrieve with</span>
              <select value={form.retrieve_method} onChange={(e) => set("retrieve_method", e.target.value)} data-testid="pacs-retrieve">
                <option value="c-get">C-GET (same association)</option>
                <option value="c-move">C-MOVE (to our DICOM listener)</option>
              </select>
            </label>
            {form.retrieve_method === "c-move" && (
              <label className="field">
                <span>Move destination AE</span>
                <input value={form.move_destination} onChange={(e) => set("move_destination", e.target.value)} data-testid="pacs-move-dest" />
                <FieldErrors messages={errs.move_destination} />
              </label>
            )}
          </div>
        </>
      )}
      <div className="form-actions">
        <button type="submit" className="btn-primary" disabled={busy || !form.name.trim()} data-testid="pacs-save">
          Save connection
        </button>
      </div>
      {error != null && !(error instanceof ApiError && Object.keys(error.errors).length > 0) && <ErrorAlert error={error} />}
    </form>
  );
}

function PacsSearchPanel({ project, connection }: { project: Project; connection: PacsConnection }) {
  const [query, setQuery] = useState<PacsSearch>({
    patient_id: "",
    study_date_from: "",
    study_date_to: "",
    modality: "",
    accession_number: "",
  });
  const [results, setResults] = useState<PacsStudy[] | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [pullJob, setPullJob] = useState<Job | null>(null);
  const [pullError, setPullError] = useState<unknown>(null);
  const set = (k: keyof PacsSearch, v: string) => setQuery((q) => ({ ...q, [k]: v }));

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setSearching(true);
    setError(null);
    try {
      const body: PacsSearch = {
        patient_id: query.patient_id?.trim() || undefined,
        study_date_from: query.study_date_from || undefined,
        study_date_to: query.study_date_to || undefined,
        modality: query.modality?.trim().toUpperCase() || undefined,
        accession_number: query.accession_number?.trim() || undefined,
      };
      const found = await searchPacs(project.id, connection.id, body);
      setResults(found.results);
      setPicked(new Set());
    } catch (err) {
      setError(err);
    } finally {
      setSearching(false);
    }
  };

  const pull = async () => {
    setPullError(null);
    try {
      setPullJob(await pullPacs(project.id, connection.id, [...picked]));
    } catch (err) {
      setPullError(err);
    }
  };

  const toggle = (uid: string) =>
    setPicked((prev) => {
      const next = new Set(prev);
      if (next.has(uid)) next.delete(uid);
      else next.add(uid);
      return next;
    });

  const errs = error instanceof ApiError ? error.errors : {};
  return (
    <div className="pacs-search" data-testid="pacs-search">
      <form className="inline-form" onSubmit={(e) => void search(e)} noValidate>
        <label className="field">
          <span>Patient ID</span>
          <input value={query.patient_id ?? ""} onChange={(e) => set("patient_id", e.target.value)} data-testid="pacs-q-patient" />
          <FieldErrors messages={errs.patient_id} />
        </label>
        <label className="field">
          <span>Study date from</span>
          <input type="date" value={query.study_date_from ?? ""} onChange={(e) => set("study_date_from", e.target.value)} data-testid="pacs-q-from" />
        </label>
        <label className="field">
          <span>to</span>
          <input type="date" value={query.study_date_to ?? ""} onChange={(e) => set("study_date_to", e.target.value)} data-testid="pacs-q-to" />
          <FieldErrors messages={errs.study_date_to} />
        </label>
        <label className="field field-narrow">
          <span>Modality</span>
          <input value={query.modality ?? ""} onChange={(e) => set("modality", e.target.value)} placeholder="CT" data-testid="pacs-q-modality" />
          <FieldErrors messages={errs.modality} />
        </label>
        <label className="field">
          <span>Accession</span>
          <input value={query.accession_number ?? ""} onChange={(e) => set("accession_number", e.target.value)} data-testid="pacs-q-accession" />
        </label>
        <button type="submit" className="btn-primary" disabled={searching} data-testid="pacs-search-submit">
          {searching ? "Searching…" : "Search"}
        </button>
      </form>
      {error != null && Object.keys(errs).length === 0 && <ErrorAlert error={error} testId="pacs-search-error" />}
      {results &&
        (results.length === 0 ? (
          <div className="empty" data-testid="pacs-no-results">
            No study matches.
          </div>
        ) : (
          <>
            <table className="table" data-testid="pacs-results">
              <thead>
                <tr>
                  <th>
                    <input
                      type="checkbox"
                      aria-label="Select all"
                      checked={picked.size === results.length}
                      onChange={(e) => setPicked(e.target.checked ? new Set(results.map((r) => r.study_instance_uid)) : new Set())}
                    />
                  </th>
                  <th>Patient</th>
                  <th>Date</th>
                  <th>Accession</th>
                  <th>Description</th>
                  <th>Modalities</th>
                  <th className="num">Series</th>
                  <th className="num">Images</th>
                </tr>
              </thead>
              <tbody>
                {results.map((r) => (
                  <tr key={r.study_instance_uid} data-testid="pacs-result">
                    <td>
                      <input
                        type="checkbox"
                        checked={picked.has(r.study_instance_uid)}
                        onChange={() => toggle(r.study_instance_uid)}
                        aria-label={`Select study ${r.accession_number || r.study_instance_uid}`}
                        data-testid="pacs-pick"
                      />
                    </td>
                    <td>
                      {r.patient_id}
                      <div className="muted small">{r.patient_name}</div>
                    </td>
                    <td className="nowrap">{r.study_date}</td>
                    <td>{r.accession_number}</td>
                    <td>{r.study_description}</td>
                    <td>{r.modalities_in_study.join(", ")}</td>
                    <td className="num">{r.number_of_series ?? "—"}</td>
                    <td className="num">{r.number_of_instances ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="form-actions">
              <button type="button" className="btn-primary" disabled={picked.size === 0} onClick={() => void pull()} data-testid="pacs-pull">
                Pull {picked.size} stud{picked.size === 1 ? "y" : "ies"}
              </button>
            </div>
          </>
        ))}
      <ErrorAlert error={pullError} showFieldErrors />
      {pullJob && <IngestJob key={String(pullJob.id)} initial={pullJob} testId="pacs-pull-job" />}
      {pullJob && (
        <Alert kind="info">
          Pulled studies are ingested like uploads; their tasks open once the images are ready.
        </Alert>
      )}
    </div>
  );
}
