// Comments on the task (GET/POST tasks/{t}/comments/).
import { useState } from "react";
import { api, getAll } from "../api";
import { ErrorAlert, formatDateTime } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import type { TaskComment } from "./types";

export function Comments({ projectId, taskId }: { projectId: number; taskId: number }) {
  const path = `projects/${projectId}/tasks/${taskId}/comments/`;
  const comments = useAsync((signal) => getAll<TaskComment>(path, undefined, signal), [path]);
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const post = async () => {
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const made = await api.post<TaskComment>(path, { text });
      comments.setData((prev) => [...(prev ?? []), made]);
      setText("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="ws-comments" data-testid="comments">
      <ErrorAlert error={comments.error} />
      <ul>
        {(comments.data ?? []).map((c) => (
          <li key={c.id} data-testid="comment">
            <div className="muted">
              {c.author?.username ?? "system"} · {formatDateTime(c.created_at)}
              {c.kind && c.kind !== "comment" ? ` · ${c.kind}` : ""}
            </div>
            <div>{c.text}</div>
          </li>
        ))}
        {comments.data && comments.data.length === 0 && <li className="muted">No comments yet.</li>}
      </ul>
      <textarea rows={2} value={text} onChange={(e) => setText(e.target.value)} placeholder="Add a comment…" data-testid="comment-text" />
      <ErrorAlert error={error} />
      <button type="button" className="btn-small" disabled={busy || !text.trim()} onClick={post} data-testid="comment-post">
        Post comment
      </button>
    </div>
  );
}
