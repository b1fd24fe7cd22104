// The project's pseudonymous patients: the way into lesion tracking across time points.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { getPage } from "../api";
import { ErrorAlert, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import type { Patient } from "./types";

export function PatientsPage() {
  const { projectId = "" } = useParams();
  const [search, setSearch] = useState("");
  const patients = useAsync(
    (signal) => getPage<Patient>(`projects/${projectId}/patients/`, { search }, signal),
    [projectId, search],
  );
  return (
    <div data-testid="patients-page">
      <div className="page-header">
        <div>
          <div className="breadcrumb">
            <Link to="/projects">Projects</Link> / <Link to={`/projects/${projectId}`}>Project</Link> /
          </div>
          <h1>Patients and lesion tracking</h1>
          <div className="muted small">Pseudonymous patients; follow lesions across their studies (RECIST 1.1).</div>
        </div>
      </div>
      <input
        type="search"
        placeholder="Search a pseudonym"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        data-testid="patients-search"
      />
      <ErrorAlert error={patients.error} />
      {!patients.data ? (
        <Loading />
      ) : patients.data.results.length === 0 ? (
        <p className="muted" data-testid="patients-empty">
          No patients yet: import studies first.
        </p>
      ) : (
        <table className="table" data-testid="patients-table">
          <thead>
            <tr>
              <th>Patient</th>
              <th>Studies (time points)</th>
              <th>Lesion tracks</th>
            </tr>
          </thead>
          <tbody>
            {patients.data.results.map((p) => (
              <tr key={p.id} data-testid={`patient-row-${p.id}`}>
                <td>
                  <Link to={`/projects/${projectId}/patients/${p.id}`} data-testid={`patient-link-${p.id}`}>
                    {p.pseudonym}
                  </Link>
                </td>
                <td>
                  {p.studies.length} · {p.studies.map((s) => s.study_date ?? "undated").join(", ")}
                </td>
                <td>{p.track_count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
