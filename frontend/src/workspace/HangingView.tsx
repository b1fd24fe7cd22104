// The 2x2 mammography hanging: the task's image in its cell is the drawing viewport (passed in
// as `active`); the other cells are view-only stack viewports (window/level, pan, zoom).
import { useEffect, useRef, useState, type ReactNode } from "react";
import { StackViewer } from "../viewer/StackViewer";
import type { HangingCell } from "./types";

function cellId(cell: HangingCell): string {
  return `${cell.laterality}-${cell.view}`.toUpperCase();
}

function CellLabel({ cell }: { cell: HangingCell }) {
  return (
    <div className="ws-overlay ws-hang-label" data-testid={`hanging-label-${cellId(cell)}`}>
      {cell.laterality} {cell.view}
    </div>
  );
}

/** One view-only cell: its own small viewer, read-only, MONOCHROME1 inverted by Cornerstone. */
function ViewCell({ cell, invert, position }: { cell: HangingCell; invert: boolean; position: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (!element || !cell.imageId) return;
    const viewer = new StackViewer(element);
    viewer.onFirstRender = () => {
      element.dataset.rendered = "true";
    };
    viewer
      .open([cell.imageId], 0)
      .then(() => {
        if (!viewer.imageIds.length) return;
        viewer.setReadOnly(true);
        if (invert) viewer.setInvert(!viewer.inverted);
        element.dataset.inverted = String(viewer.inverted);
      })
      .catch(() => setError(true));
    return () => viewer.destroy();
  }, [cell.imageId, invert]);
  return (
    <div className="ws-hang-cell" style={gridPlace(position)} data-testid={`hanging-cell-${cellId(cell)}`} data-active="false">
      {cell.imageId ? (
        <div ref={ref} className="ws-viewport" data-testid={`hanging-viewport-${cellId(cell)}`} onContextMenu={(e) => e.preventDefault()} />
      ) : (
        <div className="ws-overlay ws-center muted">Not in this study</div>
      )}
      {error && <div className="ws-overlay ws-center muted">The image could not be shown.</div>}
      <CellLabel cell={cell} />
    </div>
  );
}

function gridPlace(position: number) {
  return { gridRow: Math.floor(position / 2) + 1, gridColumn: (position % 2) + 1 };
}

interface HangingViewProps {
  cells: HangingCell[];
  invert: boolean;
  /** The drawing viewport with its overlays, placed in the active cell. */
  active: ReactNode;
}

export function HangingView({ cells, invert, active }: HangingViewProps) {
  return (
    <div className="ws-viewport-wrap ws-hanging" data-testid="hanging">
      {cells.map((cell, n) =>
        cell.active ? (
          <div key={cellId(cell)} className="ws-hang-cell ws-hang-active" style={gridPlace(n)} data-testid={`hanging-cell-${cellId(cell)}`} data-active="true">
            {active}
            <CellLabel cell={cell} />
          </div>
        ) : (
          <ViewCell key={cellId(cell)} cell={cell} invert={invert} position={n} />
        ),
      )}
    </div>
  );
}
