// The banners above the viewer: a conflicting change elsewhere, a failed save, a failed
// submit, and the reviewer's comment on a returned reading.
import { ErrorAlert } from "../components/ui";
import type { StoreSnapshot, FindingStore } from "./store";
import type { Assignment } from "./types";

interface SaveBannersProps {
  snapshot: StoreSnapshot;
  store: FindingStore;
  saveAll(): void;
  submitError: unknown;
  assignment: Assignment | null;
}

export function SaveBanners({ snapshot, store, saveAll, submitError, assignment }: SaveBannersProps) {
  const status = snapshot.status;
  return (
    <>
      {status === "conflict" && (
        <div className="alert alert-warning ws-banner" data-testid="conflict">
          Someone changed this reading elsewhere (another tab or a reviewer). Your local change is kept.
          <div className="alert-actions">
            <button type="button" onClick={() => window.location.reload()} data-testid="conflict-reload">
              Reload (discard my unsaved change)
            </button>
            <button
              type="button"
              onClick={() => {
                store.overwriteConflicts();
                saveAll();
              }}
              data-testid="conflict-keep"
            >
              Keep mine (save over it)
            </button>
          </div>
        </div>
      )}
      {status === "error" && (
        <div className="alert alert-error ws-banner" data-testid="save-error">
          Saving failed: {snapshot.message}
          <div className="alert-actions">
            <button
              type="button"
              onClick={() => {
                store.retry();
                saveAll();
              }}
              data-testid="save-retry"
            >
              Retry
            </button>
          </div>
        </div>
      )}
      {submitError != null && (
        <div className="ws-banner" data-testid="submit-error">
          <ErrorAlert error={submitError} showFieldErrors />
        </div>
      )}
      {assignment?.status === "returned" && assignment.review_comment && (
        <div className="alert alert-warning ws-banner" data-testid="review-comment">
          Returned by the reviewer: {assignment.review_comment}
        </div>
      )}
    </>
  );
}
