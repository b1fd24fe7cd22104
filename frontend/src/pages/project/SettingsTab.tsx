import { useEffect, useState, type FormEvent } from "react";
import { ApiError, api } from "../../api";
import { ProjectFields } from "../../components/ProjectFields";
import { Alert, ErrorAlert, Loading, formatDateTime } from "../../components/ui";
import { useMeta } from "../../meta";
import type { Project, ProjectInput } from "../../types";

function toInput(p: Project): ProjectInput {
  return {
    name: p.name,
    description: p.description,
    modalities: p.modalities,
    readers_per_item: p.readers_per_item,
    review_required: p.review_required,
    task_unit: p.task_unit,
    auto_assign: p.auto_assign,
  };
}

function sameInput(a: ProjectInput, b: ProjectInput): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

interface SettingsTabProps {
  project: Project;
  onSaved(project: Project): void;
  /** Refetch the project from the server. */
  onReload(): void;
}

export function SettingsTab({ project, onSaved, onReload }: SettingsTabProps) {
  const meta = useMeta();
  const isManager = project.my_role === "manager";
  // An archived project accepts only being unarchived.
  const canEdit = isManager && !project.archived;
  const [value, setValue] = useState<ProjectInput>(() => toInput(project));
  const [error, setError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<{ current: Project | null } | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A fresh project from the server (after save or reload) resets the form.
  useEffect(() => {
    setValue(toInput(project));
  }, [project]);

  const dirty = !sameInput(value, toInput(project));

  const patch = async (body: Partial<ProjectInput> & { archived?: boolean }, what: string) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const updated = await api.patch<Project>(`projects/${project.id}/`, { ...body, version: project.version });
      setConflict(null);
      onSaved(updated);
      setSaved(what);
    } catch (err) {
      if (err instanceof ApiError && err.isStale) {
        setConflict({ current: (err.body?.current as Project | undefined) ?? null });
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    // Send only what changed (the audit log then shows exactly the user's edits).
    const before = toInput(project);
    const changed = Object.fromEntries(
      (Object.keys(value) as (keyof ProjectInput)[])
        .filter((k) => JSON.stringify(value[k]) !== JSON.stringify(before[k]))
        .map((k) => [k, value[k]]),
    ) as Partial<ProjectInput>;
    void patch(changed, "Settings saved.");
  };

  const reloadFromServer = () => {
    setError(null);
    setSaved(null);
    // Refetch rather than use the 409's `current`: the list/detail GET carries the per-user
    // fields (my_role, member_count, schema_version) that the conflict answer may lack.
    onReload();
    setConflict(null);
  };

  if (meta.error) return <ErrorAlert error={meta.error} />;
  if (!meta.data) return <Loading />;

  const fieldErrors = error instanceof ApiError ? error.errors : {};
  return (
    <div className="narrow" data-testid="settings-tab">
      {!canEdit && (
        <Alert kind="info" testId="settings-readonly">
          {isManager
            ? "This project is archived: unarchive it to change its settings."
            : "Only managers can change project settings."}
        </Alert>
      )}
      {conflict && (
        <Alert kind="warning" testId="settings-stale">
          Someone else changed this project while you were editing
          {conflict.current ? ` (it is now at version ${conflict.current.version})` : ""}. Your edits are still in the
          form but were not saved.{" "}
          <button type="button" onClick={reloadFromServer} data-testid="settings-reload">
            Reload the current settings
          </button>
        </Alert>
      )}
      {saved && !dirty && (
        <Alert kind="success" testId="settings-saved">
          {saved}
        </Alert>
      )}
      {error instanceof ApiError && error.status === 400 && Object.keys(error.errors).length > 0 ? (
        <Alert kind="error">Please correct the errors below.</Alert>
      ) : (
        <ErrorAlert error={error} testId="settings-error" />
      )}
      <form className="card" onSubmit={onSubmit} noValidate data-testid="settings-form">
        <ProjectFields meta={meta.data} value={value} onChange={setValue} errors={fieldErrors} readOnly={!canEdit} />
        {canEdit && (
          <div className="form-actions">
            <button type="button" disabled={!dirty || busy} onClick={() => setValue(toInput(project))}>
              Discard changes
            </button>
            <button type="submit" className="btn-primary" disabled={!dirty || busy || !!conflict} data-testid="settings-save">
              {busy ? "Saving…" : "Save settings"}
            </button>
          </div>
        )}
      </form>

      <div className="card">
        <h3>{project.archived ? "Archived project" : "Archive"}</h3>
        <p className="muted">
          {project.archived
            ? "This project is archived: it is hidden from the project list by default."
            : "Archiving hides the project from the default project list. Nothing is deleted; you can unarchive it later."}
        </p>
        {isManager && (
          <button
            type="button"
            className={project.archived ? "" : "btn-danger"}
            disabled={busy || !!conflict}
            onClick={() =>
              void patch({ archived: !project.archived }, project.archived ? "Project unarchived." : "Project archived.")
            }
            data-testid="archive-toggle"
          >
            {project.archived ? "Unarchive project" : "Archive project"}
          </button>
        )}
      </div>

      <dl className="facts muted small">
        <dt>Owner</dt>
        <dd>{project.owner.username}</dd>
        <dt>Created</dt>
        <dd>{formatDateTime(project.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{formatDateTime(project.updated_at)}</dd>
        <dt>Version</dt>
        <dd data-testid="project-version">{project.version}</dd>
      </dl>
    </div>
  );
}
