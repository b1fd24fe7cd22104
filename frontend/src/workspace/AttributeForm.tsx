// Typed attribute inputs (enum, multi_enum, integer, number with min/max, boolean, text).
import { useState } from "react";
import type { Attribute } from "../types";

interface AttributeFormProps {
  attributes: Attribute[];
  values: Record<string, unknown>;
  readOnly: boolean;
  onChange(values: Record<string, unknown>): void;
}

export function AttributeForm({ attributes, values, readOnly, onChange }: AttributeFormProps) {
  if (!attributes.length) return null;
  const set = (key: string, value: unknown) => {
    const next = { ...values };
    if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) delete next[key];
    else next[key] = value;
    onChange(next);
  };
  return (
    <div className="ws-attributes" data-testid="attribute-form">
      {attributes.map((a) => (
        <AttributeInput key={a.key} attribute={a} value={values[a.key]} readOnly={readOnly} onChange={(v) => set(a.key, v)} />
      ))}
    </div>
  );
}

function AttributeInput({
  attribute: a,
  value,
  readOnly,
  onChange,
}: {
  attribute: Attribute;
  value: unknown;
  readOnly: boolean;
  onChange(value: unknown): void;
}) {
  const testId = `attr-${a.key}`;
  const title = (
    <span>
      {a.name}
      {a.required && <span className="ws-required"> *</span>}
    </span>
  );
  switch (a.type) {
    case "enum":
      return (
        <label className="field">
          {title}
          <select value={typeof value === "string" ? value : ""} disabled={readOnly} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
            <option value="">—</option>
            {a.options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
      );
    case "multi_enum": {
      const chosen = Array.isArray(value) ? (value as string[]) : [];
      return (
        <fieldset className="ws-choice" data-testid={testId}>
          <legend>{title}</legend>
          {a.options.map((o) => (
            <label key={o.value} className="checkbox">
              <input
                type="checkbox"
                disabled={readOnly}
                checked={chosen.includes(o.value)}
                onChange={(e) => onChange(e.target.checked ? [...chosen, o.value] : chosen.filter((v) => v !== o.value))}
              />
              {o.label}
            </label>
          ))}
        </fieldset>
      );
    }
    case "boolean":
      return (
        <label className="checkbox">
          <input type="checkbox" disabled={readOnly} checked={value === true} onChange={(e) => onChange(e.target.checked)} data-testid={testId} />
          {title}
        </label>
      );
    case "integer":
    case "number":
      return <NumberInput attribute={a} value={value} readOnly={readOnly} onChange={onChange} title={title} testId={testId} />;
    default:
      return <TextInput value={typeof value === "string" ? value : ""} readOnly={readOnly} onChange={onChange} title={title} testId={testId} />;
  }
}

function NumberInput({
  attribute: a,
  value,
  readOnly,
  onChange,
  title,
  testId,
}: {
  attribute: Attribute;
  value: unknown;
  readOnly: boolean;
  onChange(value: unknown): void;
  title: React.ReactNode;
  testId: string;
}) {
  const [text, setText] = useState(typeof value === "number" ? String(value) : "");
  const [error, setError] = useState<string | null>(null);
  const commit = () => {
    if (text.trim() === "") {
      setError(null);
      onChange(undefined);
      return;
    }
    const n = Number(text);
    if (!Number.isFinite(n) || (a.type === "integer" && !Number.isInteger(n))) {
      setError(a.type === "integer" ? "A whole number." : "A number.");
      return;
    }
    if (a.min != null && n < a.min) return setError(`At least ${a.min}.`);
    if (a.max != null && n > a.max) return setError(`At most ${a.max}.`);
    setError(null);
    if (n !== value) onChange(n);
  };
  return (
    <label className="field">
      {title}
      <input
        type="number"
        value={text}
        min={a.min ?? undefined}
        max={a.max ?? undefined}
        step={a.type === "integer" ? 1 : "any"}
        readOnly={readOnly}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === "Enter" && commit()}
        data-testid={testId}
      />
      {error && <span className="field-errors">{error}</span>}
    </label>
  );
}

function TextInput({
  value,
  readOnly,
  onChange,
  title,
  testId,
}: {
  value: string;
  readOnly: boolean;
  onChange(value: unknown): void;
  title: React.ReactNode;
  testId: string;
}) {
  const [text, setText] = useState(value);
  return (
    <label className="field">
      {title}
      <input
        value={text}
        readOnly={readOnly}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => text !== value && onChange(text)}
        data-testid={testId}
      />
    </label>
  );
}
