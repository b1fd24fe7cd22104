// The left column: navigation tools, zoom, invert, reset and window presets.
import type { Voi } from "../viewer/StackViewer";
import { NAV_TOOLS } from "./shortcuts";
import type { WindowPreset } from "./types";

interface ViewToolbarProps {
  activeLabel: string | null;
  navTool: string;
  inverted: boolean;
  voi: Voi | null;
  presets: WindowPreset[];
  chooseNavTool(tool: string): void;
  zoomBy(factor: number): void;
  toggleInvert(): void;
  reset(): void;
  applyPreset(preset: WindowPreset): void;
}

export function ViewToolbar({ activeLabel, navTool, inverted, voi, presets, chooseNavTool, zoomBy, toggleInvert, reset, applyPreset }: ViewToolbarProps) {
  return (
    <nav className="ws-toolbar" aria-label="View tools">
      {NAV_TOOLS.map((t) => (
        <button
          key={t.tool}
          type="button"
          className={!activeLabel && navTool === t.tool ? "active" : ""}
          onClick={() => chooseNavTool(t.tool)}
          title={`${t.name} (${t.key.toUpperCase()})`}
          data-testid={`tool-${t.key}`}
        >
          {t.name}
        </button>
      ))}
      <button type="button" onClick={() => zoomBy(1.25)} title="Zoom in (+)" data-testid="zoom-in">
        +
      </button>
      <button type="button" onClick={() => zoomBy(0.8)} title="Zoom out (−)" data-testid="zoom-out">
        −
      </button>
      <button type="button" className={inverted ? "active" : ""} onClick={toggleInvert} title="Invert (I)" data-testid="invert">
        Invert
      </button>
      <button type="button" onClick={reset} title="Reset (R)" data-testid="reset">
        Reset
      </button>
      <div className="ws-toolbar-group" data-testid="presets">
        {presets.map((p, n) => (
          <button
            key={p.name}
            type="button"
            onClick={() => applyPreset(p)}
            title={`${p.name}: L ${p.center} / W ${p.width}${n < 9 ? ` (Shift+${n + 1})` : ""}`}
            className={voi && Math.round(voi.center) === Math.round(p.center) && Math.round(voi.width) === Math.round(p.width) ? "active" : ""}
            data-testid={`preset-${p.name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`}
          >
            {p.name}
          </button>
        ))}
      </div>
    </nav>
  );
}
