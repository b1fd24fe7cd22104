import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { ApiError, api } from "../api";
import { ProjectFields } from "../components/ProjectFields";
import { Alert, ErrorAlert, Loading } from "../components/ui";
import { useMeta } from "../meta";
import type { Project, ProjectInput } from "../types";

const KNOWN_FIELDS = [
  "name",
  "description",
  "modalities",
  "readers_per_item",
  "review_required",
  "task_unit",
  "auto_assign",
];

export function ProjectNewPage() {
  const meta = useMeta();
  const navigate = useNavigate();
  const [value, setValue] = useState<ProjectInput>({
    name: "",
    description: "",
    modalities: [],
    readers_per_item: 1,
    review_required: false,
    task_unit: "series",
    auto_assign: true,
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const project = await api.post<Project>("projects/", value);
      navigate(`/projects/${project.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  if (meta.error) return <ErrorAlert error={meta.error} />;
  if (!meta.data) return <Loading />;

  const apiError = error instanceof ApiError ? error : null;
  // A 409 (duplicate name) is shown once, above the form, not again under the field.
  const fieldErrors = apiError && apiError.status !== 409 ? apiError.errors : {};
  const otherErrors = Object.entries(fieldErrors).filter(([k]) => !KNOWN_FIELDS.includes(k));

  return (
    <div className="narrow" data-testid="project-new-page">
      <div className="page-header">
        <h1>New project</h1>
      </div>
      <form onSubmit={onSubmit} className="card" noValidate data-testid="project-form">
        {apiError?.status === 409 ? (
          <Alert kind="error" testId="project-duplicate">
            {apiError.code === "duplicate_project_name"
              ? apiError.message || "A project with this name already exists. Choose another name."
              : apiError.message}
          </Alert>
        ) : apiError?.status === 400 && Object.keys(fieldErrors).length > 0 ? (
          <Alert kind="error" testId="project-form-error">
            {otherErrors.length > 0 ? "Please correct these errors:" : "Please correct the errors below."}
            {otherErrors.map(([k, msgs]) => (
              <div key={k}>{msgs.join(" ")}</div>
            ))}
          </Alert>
        ) : (
          <ErrorAlert error={error} testId="project-form-error" />
        )}
        <ProjectFields meta={meta.data} value={value} onChange={setValue} errors={fieldErrors} />
        <p className="muted small">You become the manager of the new project. Define its label schema next.</p>
        <div className="form-actions">
          <Link to="/projects" className="btn">
            Cancel
          </Link>
          <button type="submit" className="btn-primary" disabled={busy} data-testid="project-submit">
            {busy ? "Creating…" : "Create project"}
          </button>
        </div>
      </form>
    </div>
  );
}
