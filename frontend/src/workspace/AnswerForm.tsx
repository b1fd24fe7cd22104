// One answer label (classification single/multi, ordinal, free text) with its attributes.
import { useState } from "react";
import type { Label } from "../types";
import { AttributeForm } from "./AttributeForm";

interface AnswerFormProps {
  label: Label;
  data: Record<string, unknown> | null;
  attributes: Record<string, unknown>;
  readOnly: boolean;
  source?: string;
  sliceNote?: string;
  onAnswer(data: Record<string, unknown> | null, attributes: Record<string, unknown>): void;
}

export function AnswerForm({ label, data, attributes, readOnly, source, sliceNote, onAnswer }: AnswerFormProps) {
  const name = `answer-${label.key}`;
  const value = typeof data?.value === "string" ? data.value : "";
  const values = Array.isArray(data?.values) ? (data!.values as string[]) : [];
  return (
    <fieldset className="ws-answer" data-testid={`answer-${label.key}`}>
      <legend>
        <span className="ws-swatch" style={{ background: label.color }} />
        {label.name}
        {label.required && <span className="ws-required"> *</span>}
        {sliceNote && <span className="muted"> {sliceNote}</span>}
        {source === "model" && <span className="badge badge-info ws-model">model</span>}
      </legend>
      {(label.kind === "classification_single" || label.kind === "ordinal") && (
        <div className={label.kind === "ordinal" ? "ws-ordinal" : "ws-choice"}>
          {label.options.map((o) => (
            <label key={o.value} className="chip">
              <input
                type="radio"
                name={name}
                value={o.value}
                disabled={readOnly}
                checked={value === o.value}
                onChange={() => onAnswer({ value: o.value }, attributes)}
                data-testid={`answer-${label.key}-${o.value}`}
              />
              {o.label}
            </label>
          ))}
          {value && !readOnly && (
            <button type="button" className="btn-ghost btn-small" onClick={() => onAnswer(null, attributes)} data-testid={`answer-${label.key}-clear`}>
              Clear
            </button>
          )}
        </div>
      )}
      {label.kind === "classification_multi" && (
        <div className="ws-choice">
          {label.options.map((o) => (
            <label key={o.value} className="chip">
              <input
                type="checkbox"
                disabled={readOnly}
                checked={values.includes(o.value)}
                onChange={(e) => {
                  const next = e.target.checked ? [...values, o.value] : values.filter((v) => v !== o.value);
                  onAnswer(next.length ? { values: next } : null, attributes);
                }}
                data-testid={`answer-${label.key}-${o.value}`}
              />
              {o.label}
            </label>
          ))}
        </div>
      )}
      {label.kind === "free_text" && (
        <FreeText
          text={typeof data?.text === "string" ? data.text : ""}
          readOnly={readOnly}
          testId={`answer-${label.key}-text`}
          onCommit={(text) => onAnswer(text.trim() ? { text } : null, attributes)}
        />
      )}
      {(data || label.kind === "free_text") && label.attributes.length > 0 && (
        <AttributeForm
          attributes={label.attributes}
          values={attributes}
          readOnly={readOnly || !data}
          onChange={(next) => data && onAnswer(data, next)}
        />
      )}
    </fieldset>
  );
}

function FreeText({ text, readOnly, testId, onCommit }: { text: string; readOnly: boolean; testId: string; onCommit(text: string): void }) {
  const [value, setValue] = useState(text);
  return (
    <textarea
      rows={3}
      value={value}
      readOnly={readOnly}
      onChange={(e) => setValue(e.target.value)}
      onBlur={() => value !== text && onCommit(value)}
      data-testid={testId}
    />
  );
}
