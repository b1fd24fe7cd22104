import { useState } from "react";
import { NavLink, Outlet } from "react-router";
import { displayName, useAuth, useUser } from "../auth";

/** Top bar + page body for every logged-in page except full-screen ones. */
export function AppLayout() {
  const user = useUser();
  const { logout } = useAuth();
  const [busy, setBusy] = useState(false);

  const onLogout = async () => {
    setBusy(true);
    try {
      await logout(); // clears the user; <RequireAuth> then sends us to /login
    } catch {
      // Even if the request failed the local session state is cleared.
    }
  };

  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/projects" className="brand" data-testid="brand">
          Annotator
        </NavLink>
        <nav className="topnav">
          <NavLink to="/projects" data-testid="nav-projects">
            Projects
          </NavLink>
          <NavLink to="/account" data-testid="nav-account">
            Account
          </NavLink>
        </nav>
        <div className="topbar-user">
          <span className="muted" data-testid="current-user">
            {displayName(user)}
          </span>
          <button type="button" className="btn-ghost" onClick={onLogout} disabled={busy} data-testid="logout">
            Log out
          </button>
        </div>
      </header>
      <main className="page">
        <Outlet />
      </main>
    </div>
  );
}
