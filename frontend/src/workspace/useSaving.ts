// Saving and sync: the assignment heartbeat, the unsaved-work guard and submitting a reading
// (the autosave queue itself is store.ts; masks save through masks.ts).
import { useCallback, useEffect, useState, type RefObject } from "react";
import { annotation as csAnnotation } from "@cornerstonejs/tools";
import { api } from "../api";
import type { StackViewer } from "../viewer/StackViewer";
import type { MaskLayers } from "./masks";
import type { FindingStore } from "./store";
import type { Assignment } from "./types";

interface SavingArgs {
  projectId: number;
  assignment: Assignment | null;
  setAssignment(assignment: Assignment): void;
  editable: boolean;
  store: FindingStore;
  viewerRef: RefObject<StackViewer | null>;
  masksRef: RefObject<MaskLayers | null>;
}

export function useSaving({ projectId, assignment, setAssignment, editable, store, viewerRef, masksRef }: SavingArgs) {
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);

  // Heartbeat every 60 s while the page is visible and the reading open.
  useEffect(() => {
    if (!editable || !assignment) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") {
        api.post(`projects/${projectId}/assignments/${assignment.id}/heartbeat/`).catch(() => undefined);
      }
    }, 60_000);
    return () => window.clearInterval(id);
  }, [editable, assignment, projectId]);

  // Never drop unsaved work silently.
  useEffect(() => {
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (store.hasUnsaved) {
        event.preventDefault();
      }
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [store]);

  const submit = async () => {
    if (!assignment) return;
    setSubmitting(true);
    setSubmitError(null);
    try {
      await masksRef.current?.saveAll();
      await store.settle();
      if (store.hasUnsaved) throw new Error("Some changes are not saved yet. Resolve the message above, then submit.");
      const updated = await api.post<Assignment>(`projects/${projectId}/assignments/${assignment.id}/submit/`, {});
      setAssignment(updated);
      viewerRef.current?.setReadOnly(true);
      for (const entry of store.all()) {
        if (!entry.key.startsWith("answer:") && !entry.key.startsWith("mask:")) csAnnotation.locking.setAnnotationLocked(entry.key, true);
      }
      for (const layer of masksRef.current?.layers ?? []) masksRef.current?.setLocked(layer, true);
    } catch (err) {
      setSubmitError(err);
    } finally {
      setSubmitting(false);
    }
  };

  /** Save everything queued now (masks included); "Keep mine" and "Retry" go through it. */
  const saveAll = useCallback(() => void masksRef.current?.saveAll(), [masksRef]);

  return { submit, submitting, submitError, saveAll };
}
