// The findings list (drawings and masks with the server's millimetres) and the typed
// attribute form of the selected one.
import type { Label } from "../types";
import { AttributeForm } from "./AttributeForm";
import { findingSlice, formatMeasurements } from "./drawings";
import type { Entry } from "./store";

interface FindingsPanelProps {
  entries: Entry[];
  labelsByKey: Map<string, Label>;
  selected: string | null;
  editable: boolean;
  goToEntry(entry: Entry): void;
  deleteSelected(key: string): void;
  setAttributes(key: string, values: Record<string, unknown>): void;
}

export function FindingsPanel({ entries: findingEntries, labelsByKey, selected, editable, goToEntry, deleteSelected, setAttributes }: FindingsPanelProps) {
  const selectedEntry = selected ? findingEntries.find((e) => e.key === selected) : undefined;
  const selectedLabel = selectedEntry ? labelsByKey.get(selectedEntry.labelKey) : undefined;
  return (
    <section>
      <h3>Findings</h3>
      <ul className="ws-findings" data-testid="findings-list">
        {findingEntries.length === 0 && <li className="muted">Nothing drawn yet.</li>}
        {findingEntries.map((entry) => {
          const label = labelsByKey.get(entry.labelKey);
          const slice = entry.finding ? findingSlice(entry.finding) : entry.pending?.slice_index ?? null;
          return (
            <li
              key={entry.key}
              className={entry.key === selected ? "selected" : ""}
              data-testid="finding"
              data-label={entry.labelKey}
            >
              <button type="button" className="btn-ghost ws-finding-main" onClick={() => goToEntry(entry)}>
                <span className="ws-swatch" style={{ background: label?.color }} />
                <span className="ws-label-name">{label?.name ?? entry.labelKey}</span>
                {slice != null && <span className="muted">#{slice + 1}</span>}
                {entry.finding?.source === "model" && <span className="badge badge-info ws-model">model</span>}
              </button>
              {editable && !entry.key.startsWith("mask:") && (
                <button type="button" className="btn-icon btn-danger-text" title="Delete (Del)" onClick={() => deleteSelected(entry.key)} data-testid="finding-delete">
                  ×
                </button>
              )}
              <span className="ws-measure mono" data-testid="finding-measurements">
                {formatMeasurements(entry.finding?.measurements)}
              </span>
              {entry.pending && <span className="muted"> · unsaved</span>}
              {entry.error && <span className="ws-error"> · {entry.error}</span>}
            </li>
          );
        })}
      </ul>
      {selectedEntry && selectedLabel && selectedLabel.attributes.length > 0 && (
        <div className="ws-selected" data-testid="selected-finding">
          <h4>{selectedLabel.name}</h4>
          <AttributeForm
            key={selectedEntry.key}
            attributes={selectedLabel.attributes}
            values={selectedEntry.pending?.attributes ?? selectedEntry.finding?.attributes ?? {}}
            readOnly={!editable}
            onChange={(values) => setAttributes(selectedEntry.key, values)}
          />
        </div>
      )}
    </section>
  );
}
