import { FieldErrors } from "../components/ui";
import { emptyOption, optionValueFrom, type DraftOption, type PathErrors } from "./draft";

interface OptionsEditorProps {
  options: DraftOption[];
  onChange(options: DraftOption[]): void;
  /** Errors relative to the options list: "" for the list, "1.value" for a row. */
  errors: PathErrors;
  readOnly: boolean;
  /** Ordinal scales: the order is the scale, so say so. */
  ordered?: boolean;
  testIdPrefix?: string;
}

/** Value + label rows, with add, remove and move up/down. */
export function OptionsEditor({ options, onChange, errors, readOnly, ordered = false, testIdPrefix = "option" }: OptionsEditorProps) {
  const update = (i: number, patch: Partial<DraftOption>) =>
    onChange(options.map((o, j) => (j === i ? { ...o, ...patch } : o)));
  const move = (i: number, delta: number) => {
    const j = i + delta;
    if (j < 0 || j >= options.length) return;
    const next = options.slice();
    [next[i], next[j]] = [next[j], next[i]];
    onChange(next);
  };

  return (
    <div className="options-editor" data-testid={`${testIdPrefix}s`}>
      <div className="options-head muted small">
        {ordered ? "Scale, lowest first (the order is the scale)" : "Options"}
      </div>
      {options.length > 0 && (
        <div className="options-grid">
          <div className="options-row options-header">
            <span className="muted small">Value</span>
            <span className="muted small">Label shown to readers</span>
            <span />
          </div>
          {options.map((o, i) => {
            const rowErrors = [...(errors[`${i}`] ?? []), ...(errors[`${i}.value`] ?? []), ...(errors[`${i}.label`] ?? [])];
            return (
              <div className="options-row" key={o.uid} data-testid={`${testIdPrefix}-row`}>
                <input
                  value={o.value}
                  placeholder="value"
                  aria-label={`Option ${i + 1} value`}
                  readOnly={readOnly}
                  onChange={(e) => update(i, { value: e.target.value, valueTouched: true })}
                  data-testid={`${testIdPrefix}-value`}
                />
                <input
                  value={o.label}
                  placeholder="Label"
                  aria-label={`Option ${i + 1} label`}
                  readOnly={readOnly}
                  onChange={(e) =>
                    update(i, o.valueTouched ? { label: e.target.value } : { label: e.target.value, value: optionValueFrom(e.target.value) })
                  }
                  data-testid={`${testIdPrefix}-label`}
                />
                {!readOnly ? (
                  <span className="row-buttons">
                    <button type="button" className="btn-icon" title="Move up" aria-label="Move option up" disabled={i === 0} onClick={() => move(i, -1)}>
                      ↑
                    </button>
                    <button
                      type="button"
                      className="btn-icon"
                      title="Move down"
                      aria-label="Move option down"
                      disabled={i === options.length - 1}
                      onClick={() => move(i, 1)}
                    >
                      ↓
                    </button>
                    <button
                      type="button"
                      className="btn-icon btn-danger-text"
                      title="Remove option"
                      aria-label="Remove option"
                      onClick={() => onChange(options.filter((_, j) => j !== i))}
                      data-testid={`${testIdPrefix}-remove`}
                    >
                      ✕
                    </button>
                  </span>
                ) : (
                  <span />
                )}
                {rowErrors.length > 0 && (
                  <div className="options-row-errors">
                    <FieldErrors messages={rowErrors} />
                  </div>
                )}
              </div>
            );
          })}
        </div>
      )}
      <FieldErrors messages={errors[""]} testId={`${testIdPrefix}s-error`} />
      {!readOnly && (
        <button type="button" className="btn-small" onClick={() => onChange([...options, emptyOption()])} data-testid={`add-${testIdPrefix}`}>
          + Add option
        </button>
      )}
    </div>
  );
}
