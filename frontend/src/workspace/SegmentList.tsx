// Mask segments: one row per labelmap layer with visibility and lock.
import type { Label } from "../types";
import type { MaskLayer, MaskLayers } from "./masks";

interface SegmentListProps {
  layers: MaskLayer[];
  labelsByKey: Map<string, Label>;
  editable: boolean;
  masks: MaskLayers | null;
}

export function SegmentList({ layers, labelsByKey, editable, masks }: SegmentListProps) {
  return (
    <section>
      <h3>Segments</h3>
      <ul className="ws-segments" data-testid="segment-list">
        {layers.map((layer) => (
          <li key={layer.segmentationId} data-testid={`segment-${layer.labelKey}`}>
            <span className="ws-swatch" style={{ background: layer.color }} />
            <span className="ws-label-name">
              {labelsByKey.get(layer.labelKey)?.name ?? layer.labelKey}
              {layer.source === "model" && <span className="badge badge-info ws-model">model</span>}
            </span>
            <label className="checkbox" title="Visible">
              <input
                type="checkbox"
                checked={layer.visible}
                onChange={(e) => masks?.setVisible(layer, e.target.checked)}
                data-testid="segment-visible"
              />
              show
            </label>
            <label className="checkbox" title="Locked: the brush leaves it alone">
              <input
                type="checkbox"
                checked={layer.locked}
                disabled={!editable}
                onChange={(e) => masks?.setLocked(layer, e.target.checked)}
                data-testid="segment-locked"
              />
              lock
            </label>
          </li>
        ))}
      </ul>
    </section>
  );
}
