// Small shared presentational pieces.
import type { ReactNode } from "react";
import { ApiError, errorMessage } from "../api";

/** Messages for one form field, shown under the field. */
export function FieldErrors({ messages, testId }: { messages?: string[]; testId?: string }) {
  if (!messages || messages.length === 0) return null;
  return (
    <ul className="field-errors" data-testid={testId}>
      {messages.map((m, i) => (
        <li key={i}>{m}</li>
      ))}
    </ul>
  );
}

export function Alert({
  kind = "error",
  children,
  testId,
}: {
  kind?: "error" | "info" | "success" | "warning";
  children: ReactNode;
  testId?: string;
}) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"} data-testid={testId}>
      {children}
    </div>
  );
}

/** An error from a failed request; lists field errors the form did not place elsewhere. */
export function ErrorAlert({ error, testId, showFieldErrors = false }: { error: unknown; testId?: string; showFieldErrors?: boolean }) {
  if (!error) return null;
  const fieldEntries = error instanceof ApiError && showFieldErrors ? Object.entries(error.errors) : [];
  return (
    <Alert kind="error" testId={testId}>
      {errorMessage(error)}
      {fieldEntries.length > 0 && (
        <ul>
          {fieldEntries.map(([field, msgs]) => (
            <li key={field}>
              <code>{field}</code>: {msgs.join(" ")}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}

export function Loading({ what = "Loading…" }: { what?: string }) {
  return <div className="muted loading">{what}</div>;
}

export function Badge({ kind = "neutral", children, testId }: { kind?: string; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge badge-${kind}`} data-testid={testId}>
      {children}
    </span>
  );
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFormat.format(d);
}

/** A JSON-ish short rendering of an audit value. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "string") return value === "" ? '""' : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const json = JSON.stringify(value);
  return json.length > 200 ? json.slice(0, 197) + "…" : json;
}
