import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { getPage } from "../api";
import { Badge, ErrorAlert, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import type { Paginated, Project } from "../types";

export const ROLE_NAMES: Record<string, string> = {
  manager: "Manager",
  reviewer: "Reviewer",
  annotator: "Annotator",
  viewer: "Viewer",
};

export function ProjectListPage() {
  // Search and toggle live in the URL so that back/forward and reload keep them.
  const [params, setParams] = useSearchParams();
  const search = params.get("search") ?? "";
  // Local state drives the checkbox (a controlled input must change synchronously); the URL follows.
  const [showArchived, setShowArchived] = useState(params.get("archived") === "1");
  const [searchInput, setSearchInput] = useState(search);
  const [extra, setExtra] = useState<Project[]>([]);
  const [nextUrl, setNextUrl] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  // Debounce typing into the URL.
  useEffect(() => {
    if (searchInput === search) return;
    const t = window.setTimeout(() => {
      const p = new URLSearchParams(params);
      if (searchInput) p.set("search", searchInput);
      else p.delete("search");
      setParams(p, { replace: true });
    }, 250);
    return () => window.clearTimeout(t);
  }, [searchInput, search, params, setParams]);

  const list = useAsync<Paginated<Project>>(
    (signal) => getPage<Project>("projects/", { search, archived: showArchived ? undefined : "false" }, signal),
    [search, showArchived],
  );

  useEffect(() => {
    setExtra([]);
    setNextUrl(list.data?.next ?? null);
  }, [list.data]);

  const loadMore = async () => {
    if (!nextUrl) return;
    setLoadingMore(true);
    try {
      const page = await getPage<Project>(nextUrl);
      setExtra((prev) => [...prev, ...page.results]);
      setNextUrl(page.next);
    } finally {
      setLoadingMore(false);
    }
  };

  const toggleArchived = (on: boolean) => {
    setShowArchived(on);
    const p = new URLSearchParams(params);
    if (on) p.set("archived", "1");
    else p.delete("archived");
    setParams(p, { replace: true });
  };

  const projects = [...(list.data?.results ?? []), ...extra];

  return (
    <div data-testid="project-list-page">
      <div className="page-header">
        <h1>Projects</h1>
        <Link to="/projects/new" className="btn btn-primary" data-testid="new-project">
          New project
        </Link>
      </div>
      <div className="toolbar">
        <input
          type="search"
          placeholder="Search projects…"
          value={searchInput}
          onChange={(e) => setSearchInput(e.target.value)}
          data-testid="project-search"
          aria-label="Search projects"
        />
        <label className="checkbox">
          <input
            type="checkbox"
            checked={showArchived}
            onChange={(e) => toggleArchived(e.target.checked)}
            data-testid="show-archived"
          />
          Show archived
        </label>
        {list.data && <span className="muted">{list.data.count} project(s)</span>}
      </div>
      <ErrorAlert error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : projects.length === 0 && !list.error ? (
        <div className="empty" data-testid="project-list-empty">
          {search ? (
            <p>No project matches “{search}”.</p>
          ) : (
            <>
              <p>You are not a member of any project yet.</p>
              <p className="muted">Create one: you become its manager.</p>
            </>
          )}
        </div>
      ) : (
        <table className="table" data-testid="project-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Modalities</th>
              <th>My role</th>
              <th className="num">Readers / item</th>
              <th>Review</th>
              <th className="num">Schema</th>
              <th className="num">Members</th>
            </tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr key={p.id} data-testid="project-row" className={p.archived ? "row-archived" : undefined}>
                <td>
                  <Link to={`/projects/${p.id}`} data-testid="project-link">
                    {p.name}
                  </Link>
                  {p.archived && (
                    <>
                      {" "}
                      <Badge kind="archived">Archived</Badge>
                    </>
                  )}
                  {p.description && <div className="muted small clamp">{p.description}</div>}
                </td>
                <td>
                  {p.modalities.map((m) => (
                    <Badge key={m} kind="modality">
                      {m}
                    </Badge>
                  ))}
                </td>
                <td>{p.my_role ? ROLE_NAMES[p.my_role] ?? p.my_role : "—"}</td>
                <td className="num">{p.readers_per_item}</td>
                <td>{p.review_required ? "Required" : "No"}</td>
                <td className="num">{p.schema_version != null ? `v${p.schema_version}` : "—"}</td>
                <td className="num">{p.member_count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextUrl && (
        <div className="center">
          <button type="button" onClick={loadMore} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </div>
  );
}
