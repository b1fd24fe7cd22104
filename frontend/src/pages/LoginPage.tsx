import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { ApiError, errorMessage } from "../api";
import { safeNext, useAuth } from "../auth";
import { FieldErrors } from "../components/ui";

export function LoginPage() {
  const { state, login } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<{ message: string; throttled: boolean; fields: Record<string, string[]> } | null>(
    null,
  );
  const [busy, setBusy] = useState(false);

  if (state.status === "authenticated") return <Navigate to={next} replace />;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
      navigate(next, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setError({
          message: err.body?.message || "Too many login attempts. Please wait a while before trying again.",
          throttled: true,
          fields: {},
        });
      } else if (err instanceof ApiError) {
        const { username: u, password: p, ...rest } = err.errors;
        const fields: Record<string, string[]> = {};
        if (u) fields.username = u;
        if (p) fields.password = p;
        const other = Object.values(rest).flat();
        setError({ message: [err.message, ...other].join(" "), throttled: false, fields });
      } else {
        setError({ message: errorMessage(err), throttled: false, fields: {} });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-screen">
      <form className="login-card" onSubmit={onSubmit} data-testid="login-form" noValidate>
        <div className="login-brand">Annotator</div>
        <p className="muted">Medical image labeling</p>
        {error && (
          <div
            className={`alert ${error.throttled ? "alert-warning" : "alert-error"}`}
            role="alert"
            data-testid={error.throttled ? "login-throttled" : "login-error"}
          >
            {error.message}
          </div>
        )}
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            data-testid="login-username"
          />
          <FieldErrors messages={error?.fields.username} />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="login-password"
          />
          <FieldErrors messages={error?.fields.password} />
        </label>
        <button type="submit" className="btn-primary btn-block" disabled={busy || !username || !password} data-testid="login-submit">
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </div>
  );
}
