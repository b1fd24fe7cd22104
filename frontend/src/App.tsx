// Route table. Pages with the top bar sit under <AppLayout>; the full-screen labeling
// workspace (Cornerstone3D) sits beside it under <RequireAuth> so that it can use the whole
// window.
import { Navigate, Route, Routes } from "react-router";
import { RequireAuth } from "./auth";
import { AppLayout } from "./components/AppLayout";
import { AccountPage } from "./pages/AccountPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { ProjectListPage } from "./pages/ProjectListPage";
import { ProjectNewPage } from "./pages/ProjectNewPage";
import { ProjectPage } from "./pages/ProjectPage";
import { WorkspacePage } from "./pages/WorkspacePage";
import { PatientTrackingPage } from "./tracking/PatientTrackingPage";
import { PatientsPage } from "./tracking/PatientsPage";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<RequireAuth />}>
        <Route path="projects/:projectId/tasks/:taskId" element={<WorkspacePage />} />
        <Route element={<AppLayout />}>
          <Route index element={<Navigate to="/projects" replace />} />
          <Route path="projects" element={<ProjectListPage />} />
          <Route path="projects/new" element={<ProjectNewPage />} />
          <Route path="projects/:projectId/patients" element={<PatientsPage />} />
          <Route path="projects/:projectId/patients/:patientId" element={<PatientTrackingPage />} />
          <Route path="projects/:projectId/:tab?" element={<ProjectPage />} />
          <Route path="account" element={<AccountPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
