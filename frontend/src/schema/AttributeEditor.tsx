import { FieldErrors } from "../components/ui";
import { attributeTypeMeta } from "../meta";
import type { AttributeType, Meta } from "../types";
import { emptyOption, errorsUnder, isNumericType, uniqueSlug, type DraftAttribute, type PathErrors } from "./draft";
import { OptionsEditor } from "./OptionsEditor";

interface AttributeEditorProps {
  attribute: DraftAttribute;
  index: number;
  count: number;
  meta: Meta;
  readOnly: boolean;
  errors: PathErrors;
  siblingKeys: string[];
  onChange(attribute: DraftAttribute): void;
  onMove(delta: number): void;
  onRemove(): void;
}

/** One attribute of a label: key, name, type, options or limits, required. */
export function AttributeEditor({ attribute: a, index, count, meta, readOnly, errors, siblingKeys, onChange, onMove, onRemove }: AttributeEditorProps) {
  const typeMeta = attributeTypeMeta(meta, a.type);
  const set = (patch: Partial<DraftAttribute>) => onChange({ ...a, ...patch });
  const onName = (name: string) =>
    set(a.keyTouched || a.existing ? { name } : { name, key: uniqueSlug(name, siblingKeys) });
  const onType = (type: AttributeType) => {
    const needs = attributeTypeMeta(meta, type)?.needs_options;
    set({ type, options: needs && a.options.length === 0 ? [emptyOption(), emptyOption()] : a.options });
  };
  const unplaced = Object.entries(errors).filter(
    ([k]) => !["key", "name", "type", "min", "max", "required"].includes(k) && k !== "options" && !k.startsWith("options."),
  );

  return (
    <div className="attribute" data-testid="attribute-row">
      <div className="attribute-grid">
        <label className="field">
          <span>Name</span>
          <input value={a.name} onChange={(e) => onName(e.target.value)} placeholder="e.g. Margin" data-testid="attr-name" />
          <FieldErrors messages={errors.name} />
        </label>
        <label className="field">
          <span>Key</span>
          <input
            value={a.key}
            readOnly={a.existing}
            title={a.existing ? "Keys of saved attributes cannot change" : undefined}
            onChange={(e) => set({ key: e.target.value, keyTouched: true })}
            placeholder="margin"
            className="mono"
            data-testid="attr-key"
          />
          <FieldErrors messages={errors.key} />
        </label>
        <label className="field">
          <span>Type</span>
          <select value={a.type} onChange={(e) => onType(e.target.value as AttributeType)} data-testid="attr-type">
            {meta.attribute_types.map((t) => (
              <option key={t.code} value={t.code}>
                {t.name}
              </option>
            ))}
          </select>
          <FieldErrors messages={errors.type} />
        </label>
        <label className="checkbox field-checkbox">
          <input type="checkbox" checked={a.required} onChange={(e) => set({ required: e.target.checked })} data-testid="attr-required" />
          Required
        </label>
        {!readOnly && (
          <span className="row-buttons">
            <button type="button" className="btn-icon" aria-label="Move attribute up" disabled={index === 0} onClick={() => onMove(-1)}>
              ↑
            </button>
            <button type="button" className="btn-icon" aria-label="Move attribute down" disabled={index === count - 1} onClick={() => onMove(1)}>
              ↓
            </button>
            <button type="button" className="btn-icon btn-danger-text" aria-label="Remove attribute" onClick={onRemove} data-testid="attr-remove">
              ✕
            </button>
          </span>
        )}
      </div>
      {isNumericType(a.type) && (
        <div className="form-row">
          <label className="field field-narrow">
            <span>Minimum</span>
            <input
              type="number"
              step={a.type === "integer" ? 1 : "any"}
              value={a.min}
              onChange={(e) => set({ min: e.target.value })}
              placeholder="none"
              data-testid="attr-min"
            />
            <FieldErrors messages={errors.min} />
          </label>
          <label className="field field-narrow">
            <span>Maximum</span>
            <input
              type="number"
              step={a.type === "integer" ? 1 : "any"}
              value={a.max}
              onChange={(e) => set({ max: e.target.value })}
              placeholder="none"
              data-testid="attr-max"
            />
            <FieldErrors messages={errors.max} />
          </label>
        </div>
      )}
      {typeMeta?.needs_options && (
        <OptionsEditor
          options={a.options}
          onChange={(options) => set({ options })}
          errors={errorsUnder(errors, "options")}
          readOnly={readOnly}
          testIdPrefix="attr-option"
        />
      )}
      {unplaced.map(([k, msgs]) => (
        <FieldErrors key={k} messages={msgs.map((m) => (k ? `${k}: ${m}` : m))} />
      ))}
    </div>
  );
}
