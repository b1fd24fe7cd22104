// What the AI region tool shows on the viewport: the box being dragged and any error.
import { ErrorAlert } from "../components/ui";
import type { AiRegionState } from "./aiRegion";

export function AiRegionOverlay({ on, state }: { on: boolean; state: AiRegionState }) {
  return (
    <>
      {state.dragBox && <div className="ws-ai-box" data-testid="ai-region-box" style={state.dragBox} />}
      {on && state.error != null && (
        <div className="ws-overlay ws-overlay-br" data-testid="ai-region-error">
          <ErrorAlert error={state.error} />
        </div>
      )}
    </>
  );
}

/** The tool's part of the bottom-left status line. */
export function aiRegionStatus(on: boolean, state: AiRegionState): string {
  if (!on) return "";
  if (state.busy) return " · segmenting…";
  return state.last ? ` · ${state.last.area_mm2.toFixed(1)} mm²` : "";
}
