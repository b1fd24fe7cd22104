import { useEffect, useState, type FormEvent } from "react";
import { ApiError, api, getAll } from "../api";
import { displayName, useUser } from "../auth";
import { JobProgress } from "../components/ProgressBar";
import { Alert, Badge, ErrorAlert, FieldErrors, Loading, formatDateTime } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import { useJobPoll } from "../hooks/useJobPoll";
import type { ApiToken, ApiTokenCreated, Job, WorkerCheckResult } from "../types";

export function AccountPage() {
  const user = useUser();
  return (
    <div data-testid="account-page">
      <div className="page-header">
        <div>
          <h1>Account</h1>
          <div className="muted">
            {displayName(user) !== user.username ? `${displayName(user)} · ${user.username}` : user.username}
            {user.email && <> · {user.email}</>}
            {user.is_staff && (
              <>
                {" "}
                <Badge>staff</Badge>
              </>
            )}
          </div>
        </div>
      </div>
      <TokensSection />
      <WorkerCheckSection />
    </div>
  );
}

// ---- API tokens ----

function tokenStatus(t: ApiToken): { text: string; kind: string } {
  if (t.revoked_at) return { text: "Revoked", kind: "failed" };
  if (t.expires_at && new Date(t.expires_at).getTime() < Date.now()) return { text: "Expired", kind: "archived" };
  if (!t.active) return { text: "Inactive", kind: "archived" };
  return { text: "Active", kind: "succeeded" };
}

/** End of the chosen local day, as an ISO datetime. */
function endOfDayIso(date: string): string {
  return new Date(`${date}T23:59:59`).toISOString();
}

function TokensSection() {
  const tokens = useAsync((signal) => getAll<ApiToken>("tokens/", undefined, signal), []);
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [createError, setCreateError] = useState<unknown>(null);
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const [confirmRevoke, setConfirmRevoke] = useState<number | null>(null);
  const [revokeError, setRevokeError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const onCreate = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setCreateError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (expires) body.expires_at = endOfDayIso(expires);
      const token = await api.post<ApiTokenCreated>("tokens/", body);
      setCreated(token);
      setName("");
      setExpires("");
      const { key: _secret, ...listed } = token;
      void _secret;
      tokens.setData((prev) => [listed, ...(prev ?? [])]);
    } catch (err) {
      setCreateError(err);
    } finally {
      setBusy(false);
    }
  };

  const onRevoke = async (id: number) => {
    setConfirmRevoke(null);
    setRevokeError(null);
    try {
      await api.del(`tokens/${id}/`);
      tokens.reload();
    } catch (err) {
      setRevokeError(err);
    }
  };

  const fieldErrors = createError instanceof ApiError ? createError.errors : {};
  const today = new Date().toISOString().slice(0, 10);

  return (
    <section className="card" data-testid="tokens-section">
      <h2>API tokens</h2>
      <p className="muted small">
        Tokens let scripts, the Python client and the CLI act as you. Send one as <code>Authorization: Token &lt;key&gt;</code>.
      </p>

      {created && (
        <Alert kind="warning" testId="token-created">
          <div>
            <strong>Copy your new token “{created.name}” now.</strong> It is shown only this once; the server keeps only a
            hash of it.
          </div>
          <div className="secret-row">
            <input className="mono secret" readOnly value={created.key} onFocus={(e) => e.target.select()} data-testid="token-key" />
            <CopyButton text={created.key} />
            <button type="button" onClick={() => setCreated(null)} data-testid="token-dismiss">
              I have copied it
            </button>
          </div>
        </Alert>
      )}

      <form className="inline-form" onSubmit={onCreate} noValidate data-testid="token-form">
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. laptop CLI" data-testid="token-name" />
          <FieldErrors messages={fieldErrors.name} />
        </label>
        <label className="field">
          <span>Expires (optional)</span>
          <input type="date" min={today} value={expires} onChange={(e) => setExpires(e.target.value)} data-testid="token-expires" />
          <FieldErrors messages={fieldErrors.expires_at} />
        </label>
        <button type="submit" className="btn-primary" disabled={busy || !name.trim()} data-testid="token-create">
          Create token
        </button>
      </form>
      {createError != null && !fieldErrors.name && !fieldErrors.expires_at && <ErrorAlert error={createError} showFieldErrors />}
      <ErrorAlert error={revokeError} />
      <ErrorAlert error={tokens.error} />

      {!tokens.data ? (
        <Loading />
      ) : tokens.data.length === 0 ? (
        <div className="muted">You have no API tokens.</div>
      ) : (
        <table className="table" data-testid="token-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => {
              const status = tokenStatus(t);
              const canRevoke = !t.revoked_at;
              return (
                <tr key={t.id} data-testid="token-row">
                  <td>{t.name}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td className="nowrap">{formatDateTime(t.created_at)}</td>
                  <td className="nowrap">{t.last_used_at ? formatDateTime(t.last_used_at) : "Never"}</td>
                  <td className="nowrap">{t.expires_at ? formatDateTime(t.expires_at) : "Never"}</td>
                  <td>
                    <Badge kind={status.kind}>{status.text}</Badge>
                  </td>
                  <td className="actions">
                    {canRevoke &&
                      (confirmRevoke === t.id ? (
                        <>
                          <span className="muted small">Revoke? Scripts using it stop working.</span>{" "}
                          <button type="button" className="btn-danger" onClick={() => void onRevoke(t.id)} data-testid="token-revoke-confirm">
                            Revoke
                          </button>{" "}
                          <button type="button" onClick={() => setConfirmRevoke(null)}>
                            Cancel
                          </button>
                        </>
                      ) : (
                        <button type="button" className="btn-ghost" onClick={() => setConfirmRevoke(t.id)} data-testid="token-revoke">
                          Revoke
                        </button>
                      ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const copy = async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        // Plain-HTTP deployments have no async clipboard API.
        const area = document.createElement("textarea");
        area.value = text;
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        if (!ok) throw new Error("copy failed");
      }
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" onClick={() => void copy()} data-testid="token-copy">
      {copied === true ? "Copied ✓" : copied === false ? "Copy failed: select and copy" : "Copy"}
    </button>
  );
}

// ---- worker check ----

const QUEUES = ["default", "gpu"] as const;

function WorkerCheckSection() {
  const [jobs, setJobs] = useState<Record<string, Job<WorkerCheckResult> | null>>({});
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const [round, setRound] = useState(0);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setJobs({});
    setErrors({});
    setRound((n) => n + 1);
    await Promise.all(
      QUEUES.map(async (queue) => {
        try {
          const job = await api.post<Job<WorkerCheckResult>>("jobs/worker-check/", { queue });
          setJobs((prev) => ({ ...prev, [queue]: job }));
        } catch (err) {
          setErrors((prev) => ({ ...prev, [queue]: err }));
        }
      }),
    );
    setBusy(false);
  };

  return (
    <section className="card" data-testid="worker-check-section">
      <h2>Background workers</h2>
      <p className="muted small">
        Sends a small test job to each queue (<code>default</code> for ingest and export, <code>gpu</code> for model inference)
        and shows what the worker that ran it reports.
      </p>
      <button type="button" className="btn-primary" onClick={() => void start()} disabled={busy} data-testid="worker-check">
        Check workers
      </button>
      {round > 0 && (
        <div className="worker-grid">
          {QUEUES.map((queue) => (
            <WorkerCheckCard key={`${round}-${queue}`} queue={queue} job={jobs[queue] ?? null} error={errors[queue]} />
          ))}
        </div>
      )}
    </section>
  );
}

function WorkerCheckCard({ queue, job: initial, error }: { queue: string; job: Job<WorkerCheckResult> | null; error: unknown }) {
  const { job, error: pollError } = useJobPoll<WorkerCheckResult>(initial?.id ?? null, initial);
  const [waitedLong, setWaitedLong] = useState(false);
  useEffect(() => {
    if (job?.state !== "queued") return;
    const t = window.setTimeout(() => setWaitedLong(true), 10000);
    return () => window.clearTimeout(t);
  }, [job?.state]);
  const r = job?.state === "succeeded" ? job.result : null;

  return (
    <div className="card card-inner" data-testid={`worker-${queue}`}>
      <h3>
        Queue <code>{queue}</code>
      </h3>
      {error != null ? (
        <ErrorAlert error={error} />
      ) : !job ? (
        <Loading what="Sending…" />
      ) : (
        <>
          <JobProgress job={job} testId={`worker-${queue}-job`} />
          {job.state === "queued" && waitedLong && (
            <div className="muted small">
              No worker has taken this job yet. Is a Celery worker consuming the <code>{queue}</code> queue?
            </div>
          )}
          {pollError != null && <ErrorAlert error={pollError} />}
          {r && (
            <dl className="facts" data-testid={`worker-${queue}-result`}>
              <dt>Host</dt>
              <dd>{r.hostname}</dd>
              <dt>Device</dt>
              <dd>{r.device}</dd>
              <dt>Torch</dt>
              <dd>{r.torch_version ?? "not installed"}</dd>
              <dt>CUDA available</dt>
              <dd>{r.cuda_available ? "yes" : "no"}</dd>
              {r.cuda_devices && r.cuda_devices.length > 0 && (
                <>
                  <dt>CUDA devices</dt>
                  <dd>{r.cuda_devices.map((d) => (typeof d === "string" ? d : JSON.stringify(d))).join(", ")}</dd>
                </>
              )}
              <dt>Python</dt>
              <dd>{r.python}</dd>
            </dl>
          )}
        </>
      )}
    </div>
  );
}
