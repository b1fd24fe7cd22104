// The editable fields of a project, shared by "New project" and the Settings tab.
import type { Meta, ProjectInput, TaskUnit } from "../types";

const TASK_UNITS: { value: TaskUnit; label: string }[] = [
  { value: "series", label: "One task per series" },
  { value: "study", label: "One task per study" },
  { value: "image", label: "One task per image" },
];
import { FieldErrors } from "./ui";

interface ProjectFieldsProps {
  meta: Meta;
  value: ProjectInput;
  onChange(value: ProjectInput): void;
  errors: Record<string, string[]>;
  readOnly?: boolean;
}

export function ProjectFields({ meta, value, onChange, errors, readOnly = false }: ProjectFieldsProps) {
  const set = <K extends keyof ProjectInput>(key: K, v: ProjectInput[K]) => onChange({ ...value, [key]: v });
  const toggleModality = (code: string, on: boolean) => {
    const chosen = new Set(value.modalities);
    if (on) chosen.add(code);
    else chosen.delete(code);
    // Keep the API's order of modalities, not the click order.
    set(
      "modalities",
      meta.modalities.map((m) => m.code).filter((c) => chosen.has(c)),
    );
  };

  return (
    <fieldset className="form-grid" disabled={readOnly}>
      <label className="field">
        <span>Name</span>
        <input
          name="name"
          required
          maxLength={200}
          value={value.name}
          onChange={(e) => set("name", e.target.value)}
          data-testid="project-name"
        />
        <FieldErrors messages={errors.name} testId="error-name" />
      </label>
      <label className="field">
        <span>Description</span>
        <textarea
          name="description"
          rows={3}
          value={value.description}
          onChange={(e) => set("description", e.target.value)}
          data-testid="project-description"
        />
        <FieldErrors messages={errors.description} testId="error-description" />
      </label>
      <div className="field">
        <span>Modalities</span>
        <div className="checkbox-row" role="group" aria-label="Modalities">
          {meta.modalities.map((m) => (
            <label key={m.code} className="checkbox chip" title={m.name}>
              <input
                type="checkbox"
                checked={value.modalities.includes(m.code)}
                onChange={(e) => toggleModality(m.code, e.target.checked)}
                data-testid={`modality-${m.code}`}
              />
              <strong>{m.code}</strong> <span className="muted small">{m.name}</span>
            </label>
          ))}
        </div>
        <FieldErrors messages={errors.modalities} testId="error-modalities" />
      </div>
      <div className="form-row">
        <label className="field field-narrow">
          <span>Readers per item</span>
          <input
            type="number"
            name="readers_per_item"
            min={1}
            max={10}
            step={1}
            value={Number.isNaN(value.readers_per_item) ? "" : value.readers_per_item}
            onChange={(e) => set("readers_per_item", e.target.valueAsNumber)}
            data-testid="project-readers"
          />
          <small className="muted">Independent readers per item (1–10).</small>
          <FieldErrors messages={errors.readers_per_item} testId="error-readers_per_item" />
        </label>
        <label className="checkbox field-checkbox">
          <input
            type="checkbox"
            checked={value.review_required}
            onChange={(e) => set("review_required", e.target.checked)}
            data-testid="project-review"
          />
          Review required
          <FieldErrors messages={errors.review_required} />
        </label>
      </div>
      <div className="form-row">
        <label className="field field-narrow">
          <span>Labeling tasks</span>
          <select
            name="task_unit"
            value={value.task_unit}
            onChange={(e) => set("task_unit", e.target.value as TaskUnit)}
            data-testid="project-task-unit"
          >
            {TASK_UNITS.map((u) => (
              <option key={u.value} value={u.value}>
                {u.label}
              </option>
            ))}
          </select>
          <FieldErrors messages={errors.task_unit} />
        </label>
        <label className="checkbox field-checkbox">
          <input
            type="checkbox"
            checked={value.auto_assign}
            onChange={(e) => set("auto_assign", e.target.checked)}
            data-testid="project-auto-assign"
          />
          Deal new tasks to readers automatically (otherwise readers claim them)
          <FieldErrors messages={errors.auto_assign} />
        </label>
      </div>
    </fieldset>
  );
}
