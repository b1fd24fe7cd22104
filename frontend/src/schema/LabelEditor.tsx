import { FieldErrors } from "../components/ui";
import { kindMeta, nameOf } from "../meta";
import type { LabelKind, LabelScope, Meta } from "../types";
import { AttributeEditor } from "./AttributeEditor";
import { emptyOption, errorsUnder, newAttribute, uniqueSlug, type DraftAttribute, type DraftLabel, type PathErrors } from "./draft";
import { OptionsEditor } from "./OptionsEditor";

interface LabelEditorProps {
  label: DraftLabel;
  index: number;
  count: number;
  meta: Meta;
  readOnly: boolean;
  errors: PathErrors;
  attributeErrors: Record<string, PathErrors>;
  /** Keys of the other labels, to keep suggested keys unique. */
  otherKeys: string[];
  expanded: boolean;
  onToggle(): void;
  onChange(label: DraftLabel): void;
  onMove(delta: number): void;
  onRemove(): void;
}

const LABEL_FIELDS = ["key", "name", "color", "kind", "scope", "description", "required"];

/** One label of the schema, collapsible to a one-line summary. */
export function LabelEditor(props: LabelEditorProps) {
  const { label: l, index, count, meta, readOnly, errors, attributeErrors, otherKeys, expanded } = props;
  const kind = kindMeta(meta, l.kind);
  const set = (patch: Partial<DraftLabel>) => props.onChange({ ...l, ...patch });

  const onName = (name: string) => set(l.keyTouched || l.existing ? { name } : { name, key: uniqueSlug(name, otherKeys) });
  const onKind = (code: LabelKind) => {
    const next = kindMeta(meta, code);
    const allowed = next?.allowed_scopes ?? [];
    set({
      kind: code,
      scope: allowed.includes(l.scope) ? l.scope : (allowed[0] ?? l.scope),
      options: next?.needs_options && l.options.length === 0 ? [emptyOption(), emptyOption()] : l.options,
    });
  };
  const setAttributes = (attributes: DraftAttribute[]) => set({ attributes });
  const moveAttribute = (i: number, delta: number) => {
    const j = i + delta;
    if (j < 0 || j >= l.attributes.length) return;
    const next = l.attributes.slice();
    [next[i], next[j]] = [next[j], next[i]];
    setAttributes(next);
  };

  const errorCount =
    Object.keys(errors).length + l.attributes.reduce((n, a) => n + Object.keys(attributeErrors[a.uid] ?? {}).length, 0);
  const unplaced = Object.entries(errors).filter(
    ([k]) => !LABEL_FIELDS.includes(k) && k !== "options" && !k.startsWith("options.") && k !== "attributes",
  );
  const scopes = kind?.allowed_scopes ?? meta.label_scopes.map((s) => s.code);

  return (
    <div
      className={`label-card${errorCount ? " has-errors" : ""}${expanded ? " expanded" : ""}`}
      data-testid="label-card"
      data-label-key={l.key}
    >
      <div className="label-card-head">
        <button type="button" className="btn-icon" onClick={props.onToggle} aria-expanded={expanded} aria-label={expanded ? "Collapse" : "Expand"} data-testid="label-toggle">
          {expanded ? "▾" : "▸"}
        </button>
        <span className="swatch" style={{ background: l.color }} />
        <span className="label-title" data-testid="label-title" onClick={props.onToggle}>
          {l.name || <em className="muted">New label</em>}
        </span>
        <code className="muted small">{l.key}</code>
        <span className="badge badge-neutral">{kind?.name ?? l.kind}</span>
        <span className="muted small">{nameOf(meta.label_scopes, l.scope)}</span>
        {l.required && <span className="badge badge-neutral">required</span>}
        {!l.existing && !readOnly && <span className="badge badge-new">new</span>}
        {errorCount > 0 && <span className="badge badge-failed">{errorCount} error(s)</span>}
        {!readOnly && (
          <span className="row-buttons push-right">
            <button type="button" className="btn-icon" aria-label="Move label up" disabled={index === 0} onClick={() => props.onMove(-1)}>
              ↑
            </button>
            <button type="button" className="btn-icon" aria-label="Move label down" disabled={index === count - 1} onClick={() => props.onMove(1)}>
              ↓
            </button>
            <button type="button" className="btn-icon btn-danger-text" aria-label="Remove label" onClick={props.onRemove} data-testid="label-remove">
              ✕
            </button>
          </span>
        )}
      </div>
      {expanded && (
        <fieldset className="label-card-body" disabled={readOnly}>
          <div className="label-grid">
            <label className="field">
              <span>Name</span>
              <input value={l.name} onChange={(e) => onName(e.target.value)} placeholder="e.g. Nodule" data-testid="label-name" />
              <FieldErrors messages={errors.name} />
            </label>
            <label className="field">
              <span>Key</span>
              <input
                value={l.key}
                readOnly={l.existing}
                title={l.existing ? "Keys of saved labels cannot change" : "Lowercase letters, digits and _; starts with a letter"}
                onChange={(e) => set({ key: e.target.value, keyTouched: true })}
                placeholder="nodule"
                className="mono"
                data-testid="label-key"
              />
              <FieldErrors messages={errors.key} />
            </label>
            <label className="field field-color">
              <span>Color</span>
              <input type="color" value={l.color} onChange={(e) => set({ color: e.target.value })} data-testid="label-color" />
              <FieldErrors messages={errors.color} />
            </label>
            <label className="field">
              <span>Kind</span>
              <select value={l.kind} onChange={(e) => onKind(e.target.value as LabelKind)} data-testid="label-kind">
                {meta.label_kinds.map((k) => (
                  <option key={k.code} value={k.code}>
                    {k.name}
                  </option>
                ))}
              </select>
              <FieldErrors messages={errors.kind} />
            </label>
            <label className="field">
              <span>Scope</span>
              <select value={l.scope} onChange={(e) => set({ scope: e.target.value as LabelScope })} data-testid="label-scope">
                {scopes.map((s) => (
                  <option key={s} value={s}>
                    {nameOf(meta.label_scopes, s)}
                  </option>
                ))}
              </select>
              <FieldErrors messages={errors.scope} />
            </label>
            <label className="checkbox field-checkbox">
              <input type="checkbox" checked={l.required} onChange={(e) => set({ required: e.target.checked })} data-testid="label-required" />
              Required
              <FieldErrors messages={errors.required} />
            </label>
          </div>
          <label className="field">
            <span>Description</span>
            <textarea
              rows={2}
              value={l.description}
              onChange={(e) => set({ description: e.target.value })}
              placeholder="Instructions for readers"
              data-testid="label-description"
            />
            <FieldErrors messages={errors.description} />
          </label>
          {kind?.needs_options && (
            <OptionsEditor
              options={l.options}
              onChange={(options) => set({ options })}
              errors={errorsUnder(errors, "options")}
              readOnly={readOnly}
              ordered={l.kind === "ordinal"}
            />
          )}
          <div className="attributes">
            <div className="section-title">
              Attributes <span className="muted small">questions asked about each {kind?.geometric ? "drawn object" : "answer"}</span>
            </div>
            {l.attributes.map((a, i) => (
              <AttributeEditor
                key={a.uid}
                attribute={a}
                index={i}
                count={l.attributes.length}
                meta={meta}
                readOnly={readOnly}
                errors={attributeErrors[a.uid] ?? {}}
                siblingKeys={l.attributes.filter((x) => x.uid !== a.uid).map((x) => x.key)}
                onChange={(next) => setAttributes(l.attributes.map((x) => (x.uid === a.uid ? next : x)))}
                onMove={(delta) => moveAttribute(i, delta)}
                onRemove={() => setAttributes(l.attributes.filter((x) => x.uid !== a.uid))}
              />
            ))}
            {l.attributes.length === 0 && readOnly && <div className="muted small">None.</div>}
            <FieldErrors messages={errors.attributes} />
            {!readOnly && (
              <button type="button" className="btn-small" onClick={() => setAttributes([...l.attributes, newAttribute()])} data-testid="add-attribute">
                + Add attribute
              </button>
            )}
          </div>
          {unplaced.map(([k, msgs]) => (
            <FieldErrors key={k} messages={msgs.map((m) => (k ? `${k}: ${m}` : m))} />
          ))}
        </fieldset>
      )}
    </div>
  );
}
