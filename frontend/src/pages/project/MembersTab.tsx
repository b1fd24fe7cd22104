import { useState, type FormEvent } from "react";
import { ApiError, api, getAll } from "../../api";
import { displayName, useUser } from "../../auth";
import { ErrorAlert, FieldErrors, Loading, formatDateTime } from "../../components/ui";
import { useAsync } from "../../hooks/useAsync";
import { useMeta } from "../../meta";
import type { Member, Project, Role } from "../../types";

export function MembersTab({ project, onChanged }: { project: Project; onChanged?(): void }) {
  const me = useUser();
  const meta = useMeta();
  const canEdit = project.my_role === "manager";
  const base = `projects/${project.id}/members/`;
  const members = useAsync((signal) => getAll<Member>(base, undefined, signal), [base]);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("annotator");
  const [addError, setAddError] = useState<unknown>(null);
  const [rowError, setRowError] = useState<{ id: number; error: unknown } | null>(null);
  const [confirmRemove, setConfirmRemove] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);

  const roles = meta.data?.roles ?? [
    { code: "manager" as Role, name: "Manager" },
    { code: "reviewer" as Role, name: "Reviewer" },
    { code: "annotator" as Role, name: "Annotator" },
    { code: "viewer" as Role, name: "Viewer" },
  ];

  const onAdd = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setAddError(null);
    try {
      const added = await api.post<Member>(base, { username: username.trim(), role });
      members.setData((prev) => [...(prev ?? []), added]);
      setUsername("");
      onChanged?.();
    } catch (err) {
      setAddError(err);
    } finally {
      setBusy(false);
    }
  };

  const onRole = async (member: Member, next: Role) => {
    setRowError(null);
    try {
      const updated = await api.patch<Member>(`${base}${member.id}/`, { role: next });
      members.setData((prev) => (prev ?? []).map((m) => (m.id === member.id ? updated : m)));
      onChanged?.(); // my own role may have changed
    } catch (err) {
      setRowError({ id: member.id, error: err });
    }
  };

  const onRemove = async (member: Member) => {
    setRowError(null);
    setConfirmRemove(null);
    try {
      await api.del(`${base}${member.id}/`);
      members.setData((prev) => (prev ?? []).filter((m) => m.id !== member.id));
      onChanged?.();
    } catch (err) {
      setRowError({ id: member.id, error: err });
    }
  };

  const addErrors = addError instanceof ApiError ? addError.errors : {};
  return (
    <div data-testid="members-tab">
      {canEdit && (
        <form className="card inline-form" onSubmit={onAdd} noValidate data-testid="member-add-form">
          <label className="field">
            <span>Username</span>
            <input
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              placeholder="username"
              autoComplete="off"
              data-testid="member-username"
            />
            <FieldErrors messages={addErrors.username} />
          </label>
          <label className="field">
            <span>Role</span>
            <select value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="member-role">
              {roles.map((r) => (
                <option key={r.code} value={r.code}>
                  {r.name}
                </option>
              ))}
            </select>
            <FieldErrors messages={addErrors.role} />
          </label>
          <button type="submit" className="btn-primary" disabled={busy || !username.trim()} data-testid="member-add">
            Add member
          </button>
          {addError != null && !(addErrors.username || addErrors.role) && <ErrorAlert error={addError} />}
        </form>
      )}
      <ErrorAlert error={members.error} />
      {!members.data ? (
        <Loading />
      ) : (
        <table className="table" data-testid="member-table">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Member since</th>
              {canEdit && <th />}
            </tr>
          </thead>
          <tbody>
            {members.data.map((m) => (
              <tr key={m.id} data-testid="member-row">
                <td>
                  {displayName(m.user)} {m.user.id === me.id && <span className="muted small">(you)</span>}
                  <div className="muted small">{m.user.username}</div>
                </td>
                <td>
                  {canEdit ? (
                    <select
                      value={m.role}
                      onChange={(e) => void onRole(m, e.target.value as Role)}
                      aria-label={`Role of ${m.user.username}`}
                      data-testid="member-row-role"
                    >
                      {roles.map((r) => (
                        <option key={r.code} value={r.code}>
                          {r.name}
                        </option>
                      ))}
                    </select>
                  ) : (
                    (roles.find((r) => r.code === m.role)?.name ?? m.role)
                  )}
                  {rowError?.id === m.id && <ErrorAlert error={rowError.error} showFieldErrors />}
                </td>
                <td className="muted">{formatDateTime(m.created_at)}</td>
                {canEdit && (
                  <td className="actions">
                    {confirmRemove === m.id ? (
                      <>
                        <span className="muted small">Remove {m.user.username}?</span>{" "}
                        <button type="button" className="btn-danger" onClick={() => void onRemove(m)} data-testid="member-remove-confirm">
                          Remove
                        </button>{" "}
                        <button type="button" onClick={() => setConfirmRemove(null)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" className="btn-ghost" onClick={() => setConfirmRemove(m.id)} data-testid="member-remove">
                        Remove
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
