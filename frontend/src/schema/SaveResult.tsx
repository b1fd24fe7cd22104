import { Alert } from "../components/ui";
import type { SchemaSaveResult } from "../types";

/** What a save did: "Saved", or the new version and the breaking changes that forced it. */
export function SaveResult({ result }: { result: SchemaSaveResult }) {
  const breaking = result.changes.filter((c) => c.breaking);
  const other = result.changes.filter((c) => !c.breaking);
  return (
    <Alert kind="success" testId="schema-save-result">
      {result.new_version ? (
        <>
          <strong>
            Saved as version {result.schema.version} because of breaking changes:
          </strong>
          <ul data-testid="schema-breaking-changes">
            {breaking.map((c, i) => (
              <li key={i}>
                <code>{c.label}</code>: {c.change}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <strong>Saved</strong>
      )}
      {other.length > 0 && (
        <details>
          <summary className="small">{other.length} other change(s)</summary>
          <ul>
            {other.map((c, i) => (
              <li key={i}>
                <code>{c.label}</code>: {c.change}
              </li>
            ))}
          </ul>
        </details>
      )}
    </Alert>
  );
}
