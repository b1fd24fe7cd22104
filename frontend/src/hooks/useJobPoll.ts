// Follow a background job (GET jobs/{id}/) until it succeeds or fails.
// Reused by every long-running action: worker check now, ingest/export/pre-annotation later.
import { useEffect, useState } from "react";
import { api } from "../api";
import type { Job } from "../types";

export interface JobPollOptions {
  /** Milliseconds between polls while the job is queued or running. */
  intervalMs?: number;
  /** Slower polling after this many polls (long jobs need not hammer the API). */
  slowAfter?: number;
  slowIntervalMs?: number;
}

export interface JobPollState<R> {
  job: Job<R> | null;
  /** Last request error; polling continues (a network blip should not end the watch). */
  error: unknown;
  /** True while the job is still queued or running. */
  active: boolean;
}

export function isFinished(job: Job<unknown> | null): boolean {
  return job != null && (job.state === "succeeded" || job.state === "failed");
}

/**
 * Poll a job by id. Pass the job the POST returned as `initial` to show it at once.
 * Passing `null` as id stops polling.
 */
export function useJobPoll<R = Record<string, unknown>>(
  jobId: number | string | null,
  initial: Job<R> | null = null,
  { intervalMs = 1000, slowAfter = 60, slowIntervalMs = 5000 }: JobPollOptions = {},
): JobPollState<R> {
  const [job, setJob] = useState<Job<R> | null>(initial);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setJob(initial && initial.id === jobId ? initial : null);
    setError(null);
    if (jobId == null) return;
    if (initial && initial.id === jobId && isFinished(initial)) return;
    let cancelled = false;
    let timer: number | undefined;
    let polls = 0;
    const controller = new AbortController();

    const poll = async () => {
      polls += 1;
      try {
        const next = await api.get<Job<R>>(`jobs/${jobId}/`, undefined, controller.signal);
        if (cancelled) return;
        setJob(next);
        setError(null);
        if (isFinished(next)) return;
      } catch (err) {
        if (cancelled) return;
        setError(err);
      }
      timer = window.setTimeout(poll, polls > slowAfter ? slowIntervalMs : intervalMs);
    };
    timer = window.setTimeout(poll, initial ? intervalMs : 0);
    return () => {
      cancelled = true;
      controller.abort();
      window.clearTimeout(timer);
    };
    // `initial` is only a seed for a new id; re-running on its identity would restart polling.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobId, intervalMs, slowAfter, slowIntervalMs]);

  return { job, error, active: jobId != null && !isFinished(job) };
}
