// Who is logged in: loads auth/me/ once, exposes login/logout, guards routes.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { Navigate, Outlet, useLocation } from "react-router";
import { ApiError, api, onUnauthorized, request } from "./api";
import type { User } from "./types";

type AuthState =
  | { status: "loading"; user: null }
  /** `loggedOut`: the user just logged out here (go to plain /login, not ?next=). */
  | { status: "anonymous"; user: null; loggedOut?: boolean }
  | { status: "authenticated"; user: User }
  | { status: "error"; user: null; message: string };

interface AuthContextValue {
  state: AuthState;
  login(username: string, password: string): Promise<User>;
  logout(): Promise<void>;
  reload(): void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: "loading", user: null });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    request<User>("GET", "auth/me/", { quietUnauthorized: true })
      .then((user) => !cancelled && setState({ status: "authenticated", user }))
      .catch((err: unknown) => {
        if (cancelled) return;
        if (err instanceof ApiError && err.isUnauthenticated) setState({ status: "anonymous", user: null });
        else setState({ status: "error", user: null, message: err instanceof Error ? err.message : String(err) });
      });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  // A 401 anywhere later means the session ended: drop the user, the guard redirects.
  useEffect(() => {
    onUnauthorized(() => setState({ status: "anonymous", user: null }));
    return () => onUnauthorized(null);
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const user = await api.post<User>("auth/login/", { username, password });
    setState({ status: "authenticated", user });
    return user;
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.post<void>("auth/logout/");
    } finally {
      setState({ status: "anonymous", user: null, loggedOut: true });
    }
  }, []);

  const reload = useCallback(() => {
    setState({ status: "loading", user: null });
    setAttempt((n) => n + 1);
  }, []);

  const value = useMemo(() => ({ state, login, logout, reload }), [state, login, logout, reload]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside <AuthProvider>");
  return ctx;
}

/** The logged-in user; only call below <RequireAuth>. */
export function useUser(): User {
  const { state } = useAuth();
  if (state.status !== "authenticated") throw new Error("useUser outside <RequireAuth>");
  return state.user;
}

export function displayName(user: { username: string; first_name?: string; last_name?: string }): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return full || user.username;
}

/** Only accept local paths as a post-login target (no open redirect to //evil.example). */
export function safeNext(next: string | null): string {
  if (next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login")) return next;
  return "/projects";
}

/** Route guard: renders the child routes for a logged-in user, else sends to /login?next=… */
export function RequireAuth() {
  const { state, reload } = useAuth();
  const location = useLocation();
  if (state.status === "loading") {
    return (
      <div className="page-center muted" data-testid="auth-loading">
        Loading…
      </div>
    );
  }
  if (state.status === "error") {
    return (
      <div className="page-center">
        <div className="alert alert-error">{state.message}</div>
        <button type="button" onClick={reload}>
          Try again
        </button>
      </div>
    );
  }
  if (state.status === "anonymous") {
    if (state.loggedOut) return <Navigate to="/login" replace />;
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}
