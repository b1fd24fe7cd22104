// Import for managers: drop files, folders or zips (upload progress, then the ingest job with
// its per-file report), and search-and-pull from a remote PACS.
import { useEffect, useRef, useState, type DragEvent } from "react";
import { ProgressBar } from "../../components/ProgressBar";
import { ErrorAlert } from "../../components/ui";
import { IngestJob } from "../../labeling/IngestReport";
import { PacsSection } from "../../labeling/PacsImport";
import {
  batchFiles,
  filesFromDataTransfer,
  filesFromInput,
  uploadFiles,
  type UploadFile,
  type UploadHandle,
} from "../../labeling/taskApi";
import type { Job, Project } from "../../types";

export function ImportTab({ project }: { project: Project }) {
  return (
    <div data-testid="import-tab" className="import-tab">
      <UploadSection project={project} />
      <PacsSection project={project} />
    </div>
  );
}

// ---- upload ----

interface UploadState {
  files: number;
  bytes: number;
  sent: number;
  batch: number;
  batches: number;
  done: boolean;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function UploadSection({ project }: { project: Project }) {
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const current = useRef<UploadHandle | null>(null);
  const [over, setOver] = useState(false);
  const [upload, setUpload] = useState<UploadState | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>(null);
  const busy = upload != null && !upload.done;

  // React has no typed prop for the non-standard directory picker attribute.
  useEffect(() => {
    folderInput.current?.setAttribute("webkitdirectory", "");
  }, []);
  useEffect(() => () => current.current?.abort(), []);

  const start = async (files: UploadFile[]) => {
    if (files.length === 0 || busy) return;
    const batches = batchFiles(files);
    const bytes = files.reduce((n, f) => n + f.file.size, 0);
    setError(null);
    setJobs([]);
    setUpload({ files: files.length, bytes, sent: 0, batch: 1, batches: batches.length, done: false });
    let sentBefore = 0;
    try {
      for (let i = 0; i < batches.length; i++) {
        const batchBytes = batches[i].reduce((n, f) => n + f.file.size, 0);
        setUpload((u) => u && { ...u, batch: i + 1 });
        const handle = uploadFiles(project.id, batches[i], (loaded, total) => {
          // `total` includes multipart framing; scale to the files' bytes.
          const part = total > 0 ? (loaded / total) * batchBytes : 0;
          setUpload((u) => u && { ...u, sent: sentBefore + part });
        });
        current.current = handle;
        const job = await handle.promise;
        sentBefore += batchBytes;
        setUpload((u) => u && { ...u, sent: sentBefore });
        setJobs((prev) => [...prev, job]);
      }
    } catch (err) {
      setError(err);
    } finally {
      current.current = null;
      setUpload((u) => u && { ...u, done: true });
    }
  };

  const onDrop = async (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    if (busy) return;
    try {
      await start(await filesFromDataTransfer(e.dataTransfer));
    } catch (err) {
      setError(err);
    }
  };

  const pct = upload && upload.bytes > 0 ? upload.sent / upload.bytes : upload?.done ? 1 : 0;
  return (
    <section className="card import-section" data-testid="upload-section">
      <h2>Upload images</h2>
      <div
        className={`drop-zone${over ? " drop-over" : ""}${busy ? " drop-busy" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = "copy";
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => void onDrop(e)}
        data-testid="drop-zone"
      >
        <p>
          <strong>Drop DICOM files, folders or zip archives here</strong>
        </p>
        <p className="muted small">Images are de-identified as the project's imaging settings say, then opened as labeling tasks.</p>
        <div className="drop-buttons">
          <button type="button" disabled={busy} onClick={() => fileInput.current?.click()} data-testid="pick-files">
            Choose files or a zip…
          </button>
          <button type="button" disabled={busy} onClick={() => folderInput.current?.click()} data-testid="pick-folder">
            Choose a folder…
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            void start(filesFromInput(e.target.files));
            e.target.value = "";
          }}
          data-testid="upload-input"
        />
        <input
          ref={folderInput}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            void start(filesFromInput(e.target.files));
            e.target.value = "";
          }}
          data-testid="upload-folder-input"
        />
      </div>
      {upload && (
        <div className="upload-status" data-testid="upload-status" data-done={upload.done ? "true" : "false"}>
          <ProgressBar value={pct} state={upload.done ? (error ? "failed" : "succeeded") : "running"} testId="upload-progress" />
          <div className="muted small" data-testid="upload-progress-text">
            {upload.done ? (error ? "Upload stopped" : "Uploaded") : "Uploading"} {upload.files} file(s), {formatBytes(upload.sent)} of{" "}
            {formatBytes(upload.bytes)}
            {upload.batches > 1 && ` · request ${upload.batch} of ${upload.batches}`}
          </div>
          {busy && (
            <button type="button" className="btn-ghost btn-small" onClick={() => current.current?.abort()} data-testid="upload-cancel">
              Cancel
            </button>
          )}
        </div>
      )}
      <ErrorAlert error={error} testId="upload-error" showFieldErrors />
      {jobs.map((job) => (
        <IngestJob key={String(job.id)} initial={job} />
      ))}
    </section>
  );
}
