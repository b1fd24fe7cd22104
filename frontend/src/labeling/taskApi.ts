// Calls of the worklist, assignment, progress and import pages. JSON requests go through the
// app's one client (../api); uploads use XMLHttpRequest, the only browser API with upload
// progress events, with the same session cookie and CSRF header.
import { ApiError, api, apiUrl, csrfToken, getAll, getPage, type Query } from "../api";
import type { ApiErrorBody, Job, Member, Paginated } from "../types";
import type {
  Assignment,
  LabelingTask,
  PacsConnection,
  PacsConnectionInput,
  PacsSearch,
  PacsStudy,
  Progress,
  TaskPatch,
  TaskStatus,
} from "./taskTypes";

export interface TaskQuery {
  mine?: boolean;
  status?: TaskStatus[];
  modality?: string;
  due_before?: string;
  reader?: number;
  ordering?: string;
  page?: number;
  page_size?: number;
}

/** The path of a task list with repeated `status=` values (a multiple-choice filter). */
function tasksPath(projectId: number, statuses: TaskStatus[] | undefined): string {
  const base = `projects/${projectId}/tasks/`;
  if (!statuses || statuses.length === 0) return base;
  return base + "?" + statuses.map((s) => `status=${encodeURIComponent(s)}`).join("&");
}

export function listTasks(projectId: number, q: TaskQuery, signal?: AbortSignal): Promise<Paginated<LabelingTask>> {
  const { status, ...rest } = q;
  const query: Query = { ...rest, mine: rest.mine ? "true" : undefined };
  return getPage<LabelingTask>(tasksPath(projectId, status), query, signal);
}

/** Claim (or resume) my next task; null when nothing is left (204). */
export function claimNext(projectId: number): Promise<Assignment | null> {
  return api.post<Assignment | null>(`projects/${projectId}/tasks/next/`);
}

export function distribute(projectId: number): Promise<{ assigned: number }> {
  return api.post<{ assigned: number }>(`projects/${projectId}/tasks/distribute/`);
}

export function assignReader(projectId: number, taskId: number, reader: number): Promise<Assignment> {
  return api.post<Assignment>(`projects/${projectId}/tasks/${taskId}/assignments/`, { reader });
}

export function reassign(projectId: number, assignmentId: number, reader: number): Promise<Assignment> {
  return api.patch<Assignment>(`projects/${projectId}/assignments/${assignmentId}/`, { reader });
}

export function unassign(projectId: number, assignmentId: number): Promise<void> {
  return api.del(`projects/${projectId}/assignments/${assignmentId}/`);
}

export function patchTask(projectId: number, taskId: number, patch: TaskPatch): Promise<LabelingTask> {
  return api.patch<LabelingTask>(`projects/${projectId}/tasks/${taskId}/`, patch);
}

export function getTask(projectId: number, taskId: number, signal?: AbortSignal): Promise<LabelingTask> {
  return api.get<LabelingTask>(`projects/${projectId}/tasks/${taskId}/`, undefined, signal);
}

export function setExclusion(
  projectId: number,
  body: { user: number; task?: number | null; excluded: boolean },
): Promise<void> {
  return api.post<void>(`projects/${projectId}/tasks/exclusions/`, body);
}

export function listMembers(projectId: number, signal?: AbortSignal): Promise<Member[]> {
  return getAll<Member>(`projects/${projectId}/members/`, undefined, signal);
}

export function getProgress(projectId: number, days: number, signal?: AbortSignal): Promise<Progress> {
  return api.get<Progress>(`projects/${projectId}/progress/`, { days }, signal);
}

// ---- PACS ----

export function listPacs(projectId: number, signal?: AbortSignal): Promise<PacsConnection[]> {
  return getAll<PacsConnection>(`projects/${projectId}/pacs/`, undefined, signal);
}

export function createPacs(projectId: number, body: PacsConnectionInput): Promise<PacsConnection> {
  return api.post<PacsConnection>(`projects/${projectId}/pacs/`, body);
}

export function searchPacs(projectId: number, connectionId: number, body: PacsSearch): Promise<{ results: PacsStudy[] }> {
  return api.post<{ results: PacsStudy[] }>(`projects/${projectId}/pacs/${connectionId}/search/`, body);
}

export function pullPacs(projectId: number, connectionId: number, uids: string[]): Promise<Job> {
  return api.post<Job>(`projects/${projectId}/pacs/${connectionId}/pull/`, { study_instance_uids: uids });
}

// ---- uploads (XMLHttpRequest for progress events) ----

export interface UploadFile {
  file: File;
  /** Path inside the dropped folder ("series1/IM0001.dcm"), or the file's name. */
  path: string;
}

export interface UploadHandle {
  promise: Promise<Job>;
  abort(): void;
}

/**
 * POST projects/{id}/uploads/: one zip alone goes as a raw application/zip body (?filename=),
 * anything else as multipart `files`. `onProgress(loaded, total)` follows the bytes sent.
 */
export function uploadFiles(
  projectId: number,
  files: UploadFile[],
  onProgress: (loaded: number, total: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  let aborted = false;
  const promise = (async () => {
    const token = await csrfToken();
    if (aborted) throw new ApiError(0, null, "The upload was cancelled.");
    const single = files.length === 1 ? files[0] : null;
    const rawZip = single != null && /\.zip$/i.test(single.file.name);
    const url = apiUrl(`projects/${projectId}/uploads/`, rawZip && single ? { filename: single.file.name } : undefined);
    let body: Blob | FormData;
    if (rawZip && single) {
      body = single.file;
    } else {
      const form = new FormData();
      for (const f of files) form.append("files", f.file, f.path);
      body = form;
    }
    return new Promise<Job>((resolve, reject) => {
      xhr.open("POST", url);
      xhr.withCredentials = true;
      xhr.setRequestHeader("Accept", "application/json");
      if (token) xhr.setRequestHeader("X-CSRFToken", token);
      if (rawZip) xhr.setRequestHeader("Content-Type", "application/zip");
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded, e.total);
      };
      xhr.onload = () => {
        let data: unknown = null;
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data as Job);
        else {
          const errBody = data && typeof data === "object" ? (data as ApiErrorBody) : null;
          reject(new ApiError(xhr.status, errBody, `The upload failed (HTTP ${xhr.status}).`));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, null, "The server could not be reached. Check your connection."));
      xhr.onabort = () => reject(new ApiError(0, null, "The upload was cancelled."));
      xhr.send(body);
    });
  })();
  return {
    promise,
    abort: () => {
      aborted = true;
      xhr.abort();
    },
  };
}

// ---- dropped folders ----

/** Read every file below the dropped items, folders included (DataTransfer entries). */
export async function filesFromDataTransfer(dt: DataTransfer): Promise<UploadFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of Array.from(dt.items)) {
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  if (entries.length === 0) {
    // No entry API (or items made by script): the plain file list, each file once.
    const files = loose.length > 0 ? loose : Array.from(dt.files);
    return files.map((file) => ({ file, path: file.name }));
  }
  const out: UploadFile[] = loose.map((file) => ({ file, path: file.name }));
  for (const entry of entries) await walkEntry(entry, out);
  return out;
}

async function walkEntry(entry: FileSystemEntry, out: UploadFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\//, "") || file.name });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches (100 in Chromium) until an empty batch.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    await Promise.all(batch.map((child) => walkEntry(child, out)));
  }
}

/** Files picked with an <input type=file> (webkitdirectory gives relative paths). */
export function filesFromInput(list: FileList | null): UploadFile[] {
  return Array.from(list ?? []).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** Split a large selection into requests the server accepts (file count and size). */
export function batchFiles(files: UploadFile[], maxFiles = 1000, maxBytes = 1 << 30): UploadFile[][] {
  const batches: UploadFile[][] = [];
  let current: UploadFile[] = [];
  let bytes = 0;
  for (const f of files) {
    // A zip goes alone (raw body, streamed to staging without multipart parsing).
    const isZip = /\.zip$/i.test(f.file.name);
    if (isZip) {
      batches.push([f]);
      continue;
    }
    if (current.length > 0 && (current.length >= maxFiles || bytes + f.file.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.file.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
