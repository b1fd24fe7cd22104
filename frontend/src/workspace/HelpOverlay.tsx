// The "?" overlay: every keyboard shortcut of the workspace.
export interface Shortcut {
  keys: string;
  what: string;
}

export function HelpOverlay({ shortcuts, onClose }: { shortcuts: Shortcut[]; onClose(): void }) {
  return (
    <div className="ws-help-backdrop" onClick={onClose} data-testid="help-overlay">
      <div className="ws-help" role="dialog" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <div className="ws-help-head">
          <h2>Keyboard shortcuts</h2>
          <button type="button" className="btn-ghost" onClick={onClose} data-testid="help-close">
            Close
          </button>
        </div>
        <table>
          <tbody>
            {shortcuts.map((s) => (
              <tr key={s.keys + s.what}>
                <td>
                  <kbd>{s.keys}</kbd>
                </td>
                <td>{s.what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
