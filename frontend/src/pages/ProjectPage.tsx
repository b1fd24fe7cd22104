import { NavLink, Navigate, useParams } from "react-router";
import { ApiError, api } from "../api";
import { Badge, ErrorAlert, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import { ModelsTab } from "../models/ModelsTab";
import { SchemaTab } from "../schema/SchemaTab";
import type { Project, Role } from "../types";
import { AuditTab } from "./project/AuditTab";
import { ImportTab } from "./project/ImportTab";
import { MembersTab } from "./project/MembersTab";
import { ProgressTab } from "./project/ProgressTab";
import { SettingsTab } from "./project/SettingsTab";
import { TasksTab } from "./project/TasksTab";
import { WorklistTab } from "./project/WorklistTab";
import { ROLE_NAMES } from "./ProjectListPage";

// The first tab is the landing page (/projects/{id}): every member starts at their worklist.
const TABS = [
  { id: "worklist", title: "Worklist", roles: null },
  { id: "tasks", title: "Tasks", roles: ["manager"] },
  { id: "progress", title: "Progress", roles: null },
  { id: "import", title: "Import", roles: ["manager"] },
  { id: "models", title: "Models", roles: null },
  { id: "settings", title: "Settings", roles: null },
  { id: "schema", title: "Label schema", roles: null },
  { id: "members", title: "Members", roles: null },
  { id: "audit", title: "Audit log", roles: ["manager"] },
] as const satisfies readonly { id: string; title: string; roles: readonly Role[] | null }[];

const LANDING_TAB = TABS[0].id;

type TabId = (typeof TABS)[number]["id"];

export function ProjectPage() {
  const { projectId = "", tab = LANDING_TAB } = useParams();
  const project = useAsync((signal) => api.get<Project>(`projects/${projectId}/`, undefined, signal), [projectId]);

  if (project.error) {
    const notFound = project.error instanceof ApiError && project.error.status === 404;
    return notFound ? (
      <div className="empty" data-testid="project-not-found">
        <h1>Project not found</h1>
        <p className="muted">It does not exist or you are not a member.</p>
      </div>
    ) : (
      <ErrorAlert error={project.error} />
    );
  }
  if (!project.data) return <Loading />;
  const p = project.data;
  const isManager = p.my_role === "manager";
  const tabs = TABS.filter((t) => t.roles === null || (p.my_role != null && (t.roles as readonly Role[]).includes(p.my_role)));
  if (!tabs.some((t) => t.id === tab)) return <Navigate to={`/projects/${p.id}`} replace />;
  const current = tab as TabId;

  return (
    <div data-testid="project-page" data-project-id={p.id}>
      <div className="page-header">
        <div>
          <div className="breadcrumb">
            <NavLink to="/projects">Projects</NavLink> /
          </div>
          <h1 data-testid="project-title">
            {p.name} {p.archived && <Badge kind="archived">Archived</Badge>}
          </h1>
          <div className="muted small">
            {p.modalities.join(", ") || "No modality"} · {p.my_role ? ROLE_NAMES[p.my_role] ?? p.my_role : "—"} ·{" "}
            {p.member_count} member(s)
          </div>
        </div>
        <NavLink to={`/projects/${p.id}/patients`} className="btn btn-ghost" data-testid="project-patients">
          Patients &amp; lesion tracking
        </NavLink>
      </div>
      <nav className="tabs" role="tablist">
        {tabs.map((t) => (
          <NavLink
            key={t.id}
            to={t.id === LANDING_TAB ? `/projects/${p.id}` : `/projects/${p.id}/${t.id}`}
            end
            role="tab"
            aria-selected={current === t.id}
            className={({ isActive }) => (isActive || (current === t.id) ? "tab active" : "tab")}
            data-testid={`tab-${t.id}`}
          >
            {t.title}
          </NavLink>
        ))}
      </nav>
      <section className="tab-panel" role="tabpanel">
        {current === "worklist" && <WorklistTab project={p} />}
        {current === "tasks" && isManager && <TasksTab project={p} />}
        {current === "progress" && <ProgressTab project={p} />}
        {current === "import" && isManager && <ImportTab project={p} />}
        {current === "models" && <ModelsTab project={p} />}
        {current === "settings" && <SettingsTab project={p} onSaved={(next) => project.setData(next)} onReload={project.reload} />}
        {current === "schema" && <SchemaTab project={p} onSchemaSaved={project.reload} />}
        {current === "members" && <MembersTab project={p} onChanged={project.reload} />}
        {current === "audit" && isManager && <AuditTab project={p} />}
      </section>
    </div>
  );
}
