// The one HTTP client of the app: JSON in and out, session cookie + CSRF header,
// typed errors. Every page talks to the backend through these functions.
import type { ApiErrorBody, Paginated } from "./types";

export const API_BASE = "/api/v1/";

/** Thrown for every non-2xx response (status 0: the request never got an answer). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: Record<string, string[]>;
  readonly body: ApiErrorBody | null;

  constructor(status: number, body: ApiErrorBody | null, fallbackMessage: string) {
    const message = body?.message || body?.detail || fallbackMessage;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.code ?? (status === 0 ? "network_error" : `http_${status}`);
    this.errors = normaliseErrors(body?.errors);
    this.body = body;
  }

  /** True when the request failed because nobody is logged in. */
  get isUnauthenticated(): boolean {
    return (
      this.status === 401 ||
      (this.status === 403 && (this.code === "not_authenticated" || this.code === "authentication_failed"))
    );
  }

  /** True for optimistic-concurrency conflicts (409 stale_version). */
  get isStale(): boolean {
    return this.status === 409 && this.code === "stale_version";
  }
}

/**
 * Flatten an `errors` object to dotted paths → messages. The contract already uses dotted
 * keys ("labels.2.options"); nested DRF-style errors ({labels: [{}, {options: [...]}]}) are
 * flattened to the same form so that callers handle one shape.
 */
export function normaliseErrors(raw: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (path: string, message: string) => {
    (out[path] ??= []).push(message);
  };
  const walk = (value: unknown, path: string) => {
    if (value == null) return;
    if (typeof value !== "object") {
      add(path, String(value));
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (item != null && typeof item === "object") walk(item, path ? `${path}.${i}` : String(i));
        else if (item != null) add(path, String(item));
      });
    } else {
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        walk(child, path ? `${path}.${key}` : key);
      }
    }
  };
  if (raw && typeof raw === "object" && !Array.isArray(raw)) walk(raw, "");
  return out;
}

// ---- CSRF ----

function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [k, ...rest] = part.trim().split("=");
    if (k === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

let csrfRequest: Promise<void> | null = null;

/** Fetch auth/csrf/ once so that Django sets the csrftoken cookie. */
function ensureCsrfCookie(force = false): Promise<void> {
  if (!force && readCookie("csrftoken")) return Promise.resolve();
  if (force || !csrfRequest) {
    csrfRequest = fetch(API_BASE + "auth/csrf/", { credentials: "same-origin" }).then(
      () => undefined,
      () => undefined,
    );
  }
  return csrfRequest;
}

/** The CSRF token for a write that does not go through `request` (binary bodies, XHR uploads). */
export async function csrfToken(): Promise<string | null> {
  await ensureCsrfCookie();
  return readCookie("csrftoken");
}

// ---- requests ----

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const SAFE_METHODS: ReadonlySet<Method> = new Set(["GET"]);

export type Query = Record<string, string | number | boolean | null | undefined>;

/** Build a URL below /api/v1/ ("projects/3/" or an absolute `next` link) with a query string. */
export function apiUrl(path: string, query?: Query): string {
  let url: string;
  if (/^https?:\/\//.test(path)) {
    // Pagination links are absolute; keep only path and query so the request stays same-origin.
    const parsed = new URL(path);
    url = parsed.pathname + parsed.search;
  } else if (path.startsWith("/")) {
    url = path;
  } else {
    url = API_BASE + path;
  }
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  return url;
}

type UnauthorizedListener = () => void;
let unauthorizedListener: UnauthorizedListener | null = null;

/** Called when any request answers 401 (the session ended); the auth provider subscribes. */
export function onUnauthorized(listener: UnauthorizedListener | null): void {
  unauthorizedListener = listener;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not notify the unauthorized listener (auth/me/ itself uses this). */
  quietUnauthorized?: boolean;
}

async function send(method: Method, path: string, opts: RequestOptions, retried: boolean): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (!SAFE_METHODS.has(method)) {
    await ensureCsrfCookie();
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let response: Response;
  try {
    response = await fetch(apiUrl(path, opts.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, null, "The server could not be reached. Check your connection.");
  }
  // Django rotates the CSRF token at login; a stale cookie gets one fresh retry.
  if (response.status === 403 && !SAFE_METHODS.has(method) && !retried) {
    const peek = await response.clone().text();
    if (/csrf/i.test(peek)) {
      await ensureCsrfCookie(true);
      return send(method, path, opts, true);
    }
  }
  return response;
}

export async function request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, opts, false);
  const text = response.status === 204 ? "" : await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const body = data && typeof data === "object" ? (data as ApiErrorBody) : null;
    const error = new ApiError(response.status, body, defaultMessage(response.status));
    if (error.isUnauthenticated && !opts.quietUnauthorized) unauthorizedListener?.();
    throw error;
  }
  return data as T;
}

function defaultMessage(status: number): string {
  switch (status) {
    case 400:
      return "The request was not valid.";
    case 401:
      return "Please log in.";
    case 403:
      return "You are not allowed to do this.";
    case 404:
      return "Not found.";
    case 409:
      return "Someone else changed this in the meantime.";
    case 429:
      return "Too many requests. Please wait a moment and try again.";
    default:
      return status >= 500 ? `The server failed (HTTP ${status}).` : `Request failed (HTTP ${status}).`;
  }
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, { query, signal }),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, { body: body ?? {} }),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, { body }),
  del: (path: string) => request<void>("DELETE", path),
};

/** Normalise a list response: the API paginates, but accept a bare array too. */
export function asPage<T>(data: Paginated<T> | T[]): Paginated<T> {
  if (Array.isArray(data)) return { count: data.length, next: null, previous: null, results: data };
  return data;
}

/** GET one page of a list endpoint. */
export async function getPage<T>(path: string, query?: Query, signal?: AbortSignal): Promise<Paginated<T>> {
  return asPage(await api.get<Paginated<T> | T[]>(path, query, signal));
}

/** GET every page of a list endpoint (for short lists: members, tokens, schema versions). */
export async function getAll<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  let page = await getPage<T>(path, query, signal);
  items.push(...page.results);
  for (let guard = 0; page.next && guard < 100; guard++) {
    page = await getPage<T>(page.next, undefined, signal);
    items.push(...page.results);
  }
  return items;
}

/** A human message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
