// The workspace's save engine: one entry per finding, writes serialised per finding, versions
// carried from every answer, and a single save status for the header. A 409 (changed
// elsewhere) stops the entry and keeps the local state until the user decides.
import { api, ApiError, errorMessage } from "../api";
import type { Finding } from "./types";

export type SaveStatus = "idle" | "saving" | "saved" | "error" | "conflict";

export interface Entry {
  /** Local key: the Cornerstone annotation UID for drawings, "answer:<label>[:k]" for answers. */
  key: string;
  labelKey: string;
  finding: Finding | null;
  /** Data/attributes as last confirmed by the server (JSON), to skip no-op saves. */
  savedJson: string;
  /** Local state not yet confirmed (null: nothing pending). */
  pending: { data: Record<string, unknown>; attributes: Record<string, unknown>; slice_index: number | null } | null;
  deleted: boolean;
  error: string | null;
  conflict: boolean;
}

export interface StoreSnapshot {
  status: SaveStatus;
  message: string;
  entries: Entry[];
  revision: number;
}

const DEBOUNCE_MS = 400;

export class FindingStore {
  private readonly entries = new Map<string, Entry>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, number>();
  private inFlight = 0;
  private status: SaveStatus = "idle";
  private message = "";
  private revision = 0;
  private snapshot: StoreSnapshot;
  private readonly listeners = new Set<() => void>();
  /** Extra work that counts toward "Saving…" (mask slices). */
  private external = 0;

  constructor(
    private readonly projectId: number,
    private readonly setId: number,
  ) {
    this.snapshot = this.makeSnapshot();
  }

  // ---- React binding (useSyncExternalStore) ----
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getSnapshot = (): StoreSnapshot => this.snapshot;

  private makeSnapshot(): StoreSnapshot {
    return {
      status: this.status,
      message: this.message,
      entries: [...this.entries.values()].filter((e) => !e.deleted),
      revision: this.revision,
    };
  }

  private emit(): void {
    this.revision += 1;
    this.snapshot = this.makeSnapshot();
    for (const listener of this.listeners) listener();
  }

  private setStatus(): void {
    const entries = [...this.entries.values()];
    if (entries.some((e) => e.conflict)) {
      this.status = "conflict";
      this.message = "This reading was changed elsewhere. Your unsaved change is kept here.";
    } else if (this.inFlight > 0 || this.external > 0 || this.timers.size > 0) {
      this.status = "saving";
      this.message = "";
    } else if (entries.some((e) => e.error)) {
      this.status = "error";
      this.message = entries.find((e) => e.error)?.error ?? "";
    } else if (this.status !== "idle") {
      this.status = "saved";
      this.message = "";
    }
    this.emit();
  }

  /** True while local work is not yet on the server. */
  get hasUnsaved(): boolean {
    return [...this.entries.values()].some((e) => e.pending || e.error || e.conflict) || this.inFlight > 0 || this.external > 0;
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  all(): Entry[] {
    return [...this.entries.values()];
  }

  /** Register a finding loaded from the server under a local key. */
  adopt(key: string, finding: Finding): void {
    this.entries.set(key, {
      key,
      labelKey: finding.label_key,
      finding,
      savedJson: JSON.stringify([finding.data, finding.attributes, finding.slice_index]),
      pending: null,
      deleted: false,
      error: null,
      conflict: false,
    });
    this.emit();
  }

  /** Replace an entry's server state (after a mask save, for example). */
  updateFinding(key: string, patch: Partial<Finding>): void {
    const entry = this.entries.get(key);
    if (!entry?.finding) return;
    entry.finding = { ...entry.finding, ...patch };
    this.emit();
  }

  /** Local change of a finding (new or existing): saved after a short pause. */
  put(
    key: string,
    labelKey: string,
    state: { data: Record<string, unknown>; attributes?: Record<string, unknown>; slice_index: number | null },
    immediate = false,
  ): void {
    let entry = this.entries.get(key);
    const attributes = state.attributes ?? entry?.pending?.attributes ?? entry?.finding?.attributes ?? {};
    const json = JSON.stringify([state.data, attributes, state.slice_index]);
    if (!entry) {
      entry = { key, labelKey, finding: null, savedJson: "", pending: null, deleted: false, error: null, conflict: false };
      this.entries.set(key, entry);
    } else if (json === entry.savedJson && !entry.pending) {
      return; // nothing changed (Cornerstone also reports stats updates as modifications)
    }
    entry.pending = { data: state.data, attributes, slice_index: state.slice_index };
    entry.deleted = false;
    this.schedule(key, immediate ? 0 : DEBOUNCE_MS);
  }

  /** Change only the attributes of a finding. */
  putAttributes(key: string, attributes: Record<string, unknown>): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    const base = entry.pending ?? {
      data: entry.finding?.data ?? {},
      attributes: entry.finding?.attributes ?? {},
      slice_index: entry.finding?.slice_index ?? null,
    };
    this.put(key, entry.labelKey, { ...base, attributes }, true);
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.deleted = true;
    entry.pending = null;
    this.schedule(key, 0);
  }

  private schedule(key: string, delay: number): void {
    const timer = this.timers.get(key);
    if (timer) window.clearTimeout(timer);
    this.timers.set(
      key,
      window.setTimeout(() => {
        this.timers.delete(key);
        this.enqueue(key, () => this.flush(key));
      }, delay),
    );
    this.setStatus();
  }

  /** Run `work` after the previous write of the same key. */
  enqueue(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.chains.set(key, next);
    return next;
  }

  /** Count external work (mask saves) in the save status. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.external += 1;
    this.setStatus();
    try {
      return await work();
    } finally {
      this.external -= 1;
      this.setStatus();
    }
  }

  private async flush(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry || entry.conflict) return;
    const base = `projects/${this.projectId}/`;
    this.inFlight += 1;
    this.setStatus();
    try {
      if (entry.deleted) {
        if (entry.finding) {
          await api.del(`${base}annotations/${entry.finding.id}/?version=${entry.finding.version}`);
        }
        this.entries.delete(key);
      } else if (entry.pending) {
        const pending = entry.pending;
        let saved: Finding;
        if (!entry.finding) {
          saved = await api.post<Finding>(`${base}annotation-sets/${this.setId}/annotations/`, {
            label_key: entry.labelKey,
            data: pending.data,
            attributes: pending.attributes,
            slice_index: pending.slice_index,
          });
        } else {
          saved = await api.patch<Finding>(`${base}annotations/${entry.finding.id}/`, {
            version: entry.finding.version,
            data: pending.data,
            attributes: pending.attributes,
          });
        }
        entry.finding = saved;
        entry.savedJson = JSON.stringify([saved.data, saved.attributes, saved.slice_index]);
        if (entry.pending === pending) entry.pending = null;
      }
      entry.error = null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        entry.conflict = true;
        const current = err.body?.current as Finding | undefined;
        if (current && entry.finding) entry.finding = { ...entry.finding, version: current.version };
      } else {
        entry.error = errorMessage(err);
      }
    } finally {
      this.inFlight -= 1;
      this.setStatus();
    }
  }

  /** After a conflict: keep my version (write it over the newer one). */
  overwriteConflicts(): void {
    this.setStatusAfter(() => this.resolveConflicts());
  }

  private setStatusAfter(work: () => void): void {
    work();
    this.setStatus();
  }

  private resolveConflicts(): void {
    for (const entry of this.entries.values()) {
      if (!entry.conflict) continue;
      entry.conflict = false;
      // Mask bits are re-sent by MaskLayers.saveAll (the caller), with the version now known.
      if (entry.key.startsWith("mask:")) continue;
      if (!entry.pending && !entry.deleted && entry.finding) {
        entry.pending = { data: entry.finding.data, attributes: entry.finding.attributes, slice_index: entry.finding.slice_index };
      }
      this.schedule(entry.key, 0);
    }
  }

  /** Retry entries that failed (network errors). */
  retry(): void {
    for (const entry of this.entries.values()) {
      if (entry.error) {
        entry.error = null;
        this.schedule(entry.key, 0);
      }
    }
  }

  /** Mark an entry as in conflict (mask saves report their own 409s). */
  markConflict(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.conflict = true;
    this.setStatus();
  }

  markError(key: string, message: string | null): void {
    const entry = this.entries.get(key);
    if (entry) entry.error = message;
    this.setStatus();
  }

  /** Wait until every write queued so far has finished. */
  async settle(): Promise<void> {
    for (const [key, timer] of [...this.timers]) {
      window.clearTimeout(timer);
      this.timers.delete(key);
      void this.enqueue(key, () => this.flush(key));
    }
    await Promise.all([...this.chains.values()]);
  }
}
