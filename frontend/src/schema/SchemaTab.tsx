// The label schema editor: edit the current schema, save with optimistic concurrency,
// browse earlier versions read-only, start from a template.
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, api, getAll } from "../api";
import { Alert, Badge, ErrorAlert, Loading, formatDateTime } from "../components/ui";
import { useMeta } from "../meta";
import type { Label, LabelSchema, Meta, Project, SchemaSaveResult } from "../types";
import {
  NO_ERRORS,
  fromDraft,
  labelToDraft,
  labelsFingerprint,
  mapSchemaErrors,
  markExisting,
  newLabel,
  toDraft,
  type DraftLabel,
  type SchemaErrors,
} from "./draft";
import { LabelEditor } from "./LabelEditor";
import { SaveResult } from "./SaveResult";
import { TemplatePicker } from "./TemplatePicker";
import { TEMPLATES, instantiateTemplate } from "./templates";

interface SchemaTabProps {
  project: Project;
  /** Called after a successful save (the project's schema_version may have changed). */
  onSchemaSaved(): void;
}

/** Draft rows for `labels`, reusing the uids of `previous` rows with the same key (keeps expansion state). */
function rebase(previous: DraftLabel[], labels: Label[]): DraftLabel[] {
  const uidByKey = new Map(previous.map((d) => [d.key, d.uid]));
  return toDraft(labels).map((d) => ({ ...d, uid: uidByKey.get(d.key) ?? d.uid }));
}

export function SchemaTab({ project, onSchemaSaved }: SchemaTabProps) {
  const meta = useMeta();
  if (meta.error) return <ErrorAlert error={meta.error} />;
  if (!meta.data) return <Loading />;
  return <SchemaEditor project={project} meta={meta.data} onSchemaSaved={onSchemaSaved} />;
}

function SchemaEditor({ project, meta, onSchemaSaved }: SchemaTabProps & { meta: Meta }) {
  // The API refuses schema edits of archived projects (409 project_archived).
  const canEdit = project.my_role === "manager" && !project.archived;
  const base = `projects/${project.id}/`;

  const [server, setServer] = useState<LabelSchema | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [draft, setDraft] = useState<DraftLabel[]>([]);
  const [note, setNote] = useState("");
  const [expanded, setExpanded] = useState<Set<string>>(new Set());

  const [saving, setSaving] = useState(false);
  const [errors, setErrors] = useState<SchemaErrors>(NO_ERRORS);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [result, setResult] = useState<SchemaSaveResult | null>(null);
  /** Set after a 409: the schema as it is now on the server (null if the answer did not carry it). */
  const [conflict, setConflict] = useState<{ current: LabelSchema | null } | null>(null);

  const [versions, setVersions] = useState<LabelSchema[] | null>(null);
  const [viewVersion, setViewVersion] = useState<number | null>(null);
  const [viewed, setViewed] = useState<LabelSchema | null>(null);
  const [viewError, setViewError] = useState<unknown>(null);

  const applyServer = useCallback((schema: LabelSchema | null, keepEdits = false) => {
    setServer(schema);
    if (keepEdits) setDraft((prev) => markExisting(prev, schema?.labels ?? []));
    else setDraft((prev) => rebase(prev, schema?.labels ?? []));
    setConflict(null);
    setErrors(NO_ERRORS);
    setSaveError(null);
  }, []);

  const loadCurrent = useCallback(async () => {
    setLoadError(null);
    try {
      const schema = await api.get<LabelSchema>(`${base}schema/`);
      applyServer(schema);
    } catch (err) {
      // A project without any schema yet: start empty; the first save creates version 1.
      if (err instanceof ApiError && err.status === 404) applyServer(null);
      else setLoadError(err);
    } finally {
      setLoaded(true);
    }
  }, [base, applyServer]);

  const loadVersions = useCallback(async () => {
    try {
      const list = await getAll<LabelSchema>(`${base}schemas/`);
      setVersions([...list].sort((a, b) => b.version - a.version));
    } catch {
      setVersions([]); // history is optional; the editor still works
    }
  }, [base]);

  useEffect(() => {
    void loadCurrent();
    void loadVersions();
  }, [loadCurrent, loadVersions]);

  const outgoing = useMemo(() => fromDraft(draft, meta), [draft, meta]);
  const dirty = loaded && labelsFingerprint(outgoing) !== labelsFingerprint(server?.labels ?? []);

  // Warn before closing the tab with unsaved edits.
  useEffect(() => {
    if (!dirty) return;
    const handler = (e: BeforeUnloadEvent) => {
      e.preventDefault();
    };
    window.addEventListener("beforeunload", handler);
    return () => window.removeEventListener("beforeunload", handler);
  }, [dirty]);

  // ---- history ----
  const viewing = viewVersion != null && viewVersion !== server?.version;
  useEffect(() => {
    setViewError(null);
    if (viewVersion == null || viewVersion === server?.version) {
      setViewed(null);
      return;
    }
    const listed = versions?.find((v) => v.version === viewVersion);
    if (listed && Array.isArray(listed.labels)) {
      setViewed(listed);
      return;
    }
    let cancelled = false;
    api
      .get<LabelSchema>(`${base}schemas/${viewVersion}/`)
      .then((s) => !cancelled && setViewed(s))
      .catch((err: unknown) => !cancelled && setViewError(err));
    return () => {
      cancelled = true;
    };
  }, [viewVersion, versions, server?.version, base]);

  // ---- editing ----
  const toggle = (uid: string) =>
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(uid)) next.delete(uid);
      else next.add(uid);
      return next;
    });

  const update = (uid: string, next: DraftLabel) => {
    setDraft((prev) => prev.map((l) => (l.uid === uid ? next : l)));
    setResult(null);
  };
  const move = (i: number, delta: number) => {
    const j = i + delta;
    setDraft((prev) => {
      if (j < 0 || j >= prev.length) return prev;
      const next = prev.slice();
      [next[i], next[j]] = [next[j], next[i]];
      return next;
    });
    setResult(null);
  };
  const remove = (uid: string) => {
    setDraft((prev) => prev.filter((l) => l.uid !== uid));
    setResult(null);
  };
  const addLabel = () => {
    const label = newLabel(meta, draft);
    setDraft((prev) => [...prev, label]);
    setExpanded((prev) => new Set(prev).add(label.uid));
    setResult(null);
  };
  const applyTemplate = (id: string) => {
    const template = TEMPLATES.find((t) => t.id === id);
    if (!template) return;
    const labels = instantiateTemplate(template, meta).map((l) => labelToDraft(l, false));
    setDraft(labels);
    setExpanded(new Set(labels.map((l) => l.uid)));
    setResult(null);
  };
  const discard = () => {
    setDraft(toDraft(server?.labels ?? []));
    setErrors(NO_ERRORS);
    setSaveError(null);
    setResult(null);
  };

  const save = async () => {
    const sent = draft;
    setSaving(true);
    setErrors(NO_ERRORS);
    setSaveError(null);
    setResult(null);
    try {
      const body: Record<string, unknown> = { base_revision: server?.revision ?? null, labels: fromDraft(sent, meta) };
      if (note.trim()) body.note = note.trim();
      const res = await api.put<SchemaSaveResult>(`${base}schema/`, body);
      applyServer(res.schema);
      setResult(res);
      setNote("");
      setViewVersion(null);
      void loadVersions();
      onSchemaSaved();
    } catch (err) {
      if (err instanceof ApiError && err.isStale) {
        setConflict({ current: (err.body?.current as LabelSchema | undefined) ?? null });
      } else if (err instanceof ApiError && err.status === 400 && Object.keys(err.errors).length > 0) {
        const mapped = mapSchemaErrors(err.errors, sent);
        setErrors(mapped);
        setExpanded((prev) => new Set([...prev, ...Object.keys(mapped.byLabel), ...mapped.summary.flatMap((s) => (s.labelUid ? [s.labelUid] : []))]));
      } else {
        setSaveError(err);
      }
    } finally {
      setSaving(false);
    }
  };

  const reloadAfterConflict = async () => {
    // applyServer replaces the draft with the server's labels.
    if (conflict?.current) applyServer(conflict.current);
    else await loadCurrent();
    void loadVersions();
    setResult(null);
  };

  const keepMineAfterConflict = async () => {
    let current = conflict?.current ?? null;
    if (!current) {
      try {
        current = await api.get<LabelSchema>(`${base}schema/`);
      } catch (err) {
        setSaveError(err);
        return;
      }
    }
    applyServer(current, true);
  };

  if (loadError) return <ErrorAlert error={loadError} />;
  if (!loaded) return <Loading />;

  const shown: LabelSchema | null = viewing ? viewed : server;
  const readOnly = !canEdit || viewing;
  const labels = viewing ? toDraftCached(viewed) : draft;
  const empty = !viewing && draft.length === 0 && (server?.labels.length ?? 0) === 0;

  return (
    <div className="schema-editor" data-testid="schema-tab">
      <div className="schema-header">
        <div>
          <span className="schema-version" data-testid="schema-version">
            {shown ? `Version ${shown.version}` : "No schema yet"}
          </span>
          {shown && <span className="muted small"> · revision {shown.revision}</span>}{" "}
          {shown &&
            (shown.in_use ? (
              <Badge kind="inuse" testId="schema-in-use">
                In use
              </Badge>
            ) : (
              <Badge kind="neutral" testId="schema-in-use">
                Not in use
              </Badge>
            ))}
          {shown?.created_by && (
            <div className="muted small">
              Saved by {shown.created_by.username} · {formatDateTime(shown.created_at)}
              {shown.note && <> · “{shown.note}”</>}
            </div>
          )}
        </div>
        <label className="field-inline">
          Version history
          <select
            value={viewing ? String(viewVersion) : "current"}
            onChange={(e) => setViewVersion(e.target.value === "current" ? null : Number(e.target.value))}
            data-testid="schema-history"
            disabled={!versions || versions.length === 0}
          >
            <option value="current">Current{server ? ` (v${server.version})` : ""}</option>
            {(versions ?? [])
              .filter((v) => v.version !== server?.version)
              .map((v) => (
                <option key={v.id} value={String(v.version)}>
                  v{v.version} · {formatDateTime(v.created_at)}
                  {v.in_use ? " · in use" : ""}
                </option>
              ))}
          </select>
        </label>
      </div>

      {shown && !viewing && canEdit && (
        <p className="muted small">
          {shown.in_use
            ? "This version is in use by annotations: a breaking change (removing a label or option, changing a kind or scope, …) saves a new version; other changes update this one."
            : "No annotation uses this version yet: saving updates it in place."}
        </p>
      )}
      {!canEdit && (
        <Alert kind="info" testId="schema-readonly">
          {project.archived
            ? "This project is archived: unarchive it (Settings) to change the label schema."
            : "Only managers can change the label schema."}
        </Alert>
      )}
      {viewing && (
        <Alert kind="info" testId="schema-viewing-old">
          You are looking at version {viewVersion}, read-only.{" "}
          <button type="button" onClick={() => setViewVersion(null)} data-testid="schema-back-to-current">
            Back to the current version
          </button>
        </Alert>
      )}
      <ErrorAlert error={viewError} />

      {conflict && !viewing && (
        <Alert kind="warning" testId="schema-conflict">
          <strong>Someone else changed the schema</strong>
          {conflict.current ? ` (now version ${conflict.current.version}, revision ${conflict.current.revision})` : ""} after you
          loaded it. Your edits are still here and were not saved.
          <div className="alert-actions">
            <button type="button" onClick={() => void reloadAfterConflict()} data-testid="schema-reload">
              Reload (discard my edits)
            </button>
            <button type="button" onClick={() => void keepMineAfterConflict()} data-testid="schema-keep-mine">
              Keep my edits (then save to overwrite theirs)
            </button>
          </div>
        </Alert>
      )}

      {result && !viewing && !dirty && <SaveResult result={result} />}

      {errors.summary.length > 0 && !viewing && (
        <Alert kind="error" testId="schema-errors">
          <strong>The schema was not saved:</strong>
          <ul>
            {errors.summary.map((e, i) => (
              <li key={i}>
                <strong>{e.where}</strong>: {e.messages.join(" ")}
              </li>
            ))}
          </ul>
        </Alert>
      )}
      {errors.summary.length === 0 && <ErrorAlert error={saveError} testId="schema-save-error" />}

      {empty && canEdit && <TemplatePicker onPick={applyTemplate} />}
      {empty && !canEdit && <div className="empty">This project has no labels yet.</div>}
      {viewing && !viewed && !viewError && <Loading />}

      <div className="label-list" data-testid="label-list">
        {labels.map((l, i) => (
          <LabelEditor
            key={l.uid}
            label={l}
            index={i}
            count={labels.length}
            meta={meta}
            readOnly={readOnly}
            errors={viewing ? {} : (errors.byLabel[l.uid] ?? {})}
            attributeErrors={viewing ? {} : errors.byAttribute}
            otherKeys={labels.filter((x) => x.uid !== l.uid).map((x) => x.key)}
            expanded={expanded.has(l.uid)}
            onToggle={() => toggle(l.uid)}
            onChange={(next) => update(l.uid, next)}
            onMove={(delta) => move(i, delta)}
            onRemove={() => remove(l.uid)}
          />
        ))}
      </div>

      {!readOnly && (
        <div className="schema-actions">
          <button type="button" onClick={addLabel} data-testid="add-label">
            + Add label
          </button>
          <span className="spacer" />
          <input
            className="note-input"
            value={note}
            onChange={(e) => setNote(e.target.value)}
            placeholder="Change note (optional)"
            aria-label="Change note"
            data-testid="schema-note"
          />
          <button type="button" disabled={!dirty || saving} onClick={discard} data-testid="schema-discard">
            Discard changes
          </button>
          <button
            type="button"
            className="btn-primary"
            disabled={!dirty || saving || !!conflict}
            onClick={() => void save()}
            data-testid="schema-save"
          >
            {saving ? "Saving…" : "Save schema"}
          </button>
        </div>
      )}
      {dirty && !readOnly && (
        <div className="muted small right" data-testid="schema-dirty">
          Unsaved changes
        </div>
      )}
    </div>
  );
}

// Old versions are shown through the same editor, read-only; cache their draft form per object.
const viewedDrafts = new WeakMap<LabelSchema, DraftLabel[]>();
function toDraftCached(schema: LabelSchema | null): DraftLabel[] {
  if (!schema) return [];
  let d = viewedDrafts.get(schema);
  if (!d) {
    d = toDraft(schema.labels);
    viewedDrafts.set(schema, d);
  }
  return d;
}
