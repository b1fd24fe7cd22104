import { TEMPLATES } from "./templates";

/** Starter schemas, offered while the schema is empty. */
export function TemplatePicker({ onPick }: { onPick(id: string): void }) {
  return (
    <div className="card templates" data-testid="schema-templates">
      <h3>Start from a template</h3>
      <p className="muted small">The schema is empty. Pick a template to edit, or add labels one by one.</p>
      <div className="template-grid">
        {TEMPLATES.map((t) => (
          <button key={t.id} type="button" className="template" onClick={() => onPick(t.id)} data-testid={`template-${t.id}`}>
            <strong>{t.title}</strong>
            <span className="muted small">{t.summary}</span>
          </button>
        ))}
      </div>
    </div>
  );
}
