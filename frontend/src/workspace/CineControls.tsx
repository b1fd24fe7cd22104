// Cine playback controls under the viewport (ultrasound multi-frame stacks): play/pause and the
// frame rate; Space toggles playback.
import { useCallback, useEffect, useRef, useState, type RefObject } from "react";
import { CinePlayer, clampRate, defaultFrameRate } from "../viewer/cine";
import type { StackViewer } from "../viewer/StackViewer";

interface CineArgs {
  viewerRef: RefObject<StackViewer | null>;
  /** The viewer is open (its image ids and metadata are known). */
  ready: boolean;
  enabled: boolean;
  frameTimeMs: number | null | undefined;
  fallbackRate: number;
}

export interface Cine {
  enabled: boolean;
  playing: boolean;
  fps: number;
  toggle(): void;
  setFps(fps: number): void;
}

/** The cine player of the workspace's viewer (built once the viewer is open). */
export function useCine({ viewerRef, ready, enabled, frameTimeMs, fallbackRate }: CineArgs): Cine {
  const player = useRef<CinePlayer | null>(null);
  const [playing, setPlaying] = useState(false);
  const [fps, setFpsState] = useState(clampRate(fallbackRate));

  useEffect(() => {
    const viewer = viewerRef.current;
    if (!enabled || !ready || !viewer) return;
    const rate = defaultFrameRate(frameTimeMs, viewer.imageIds[0], fallbackRate);
    const cine = new CinePlayer(viewer, rate);
    cine.onChange = setPlaying;
    player.current = cine;
    setFpsState(rate);
    return () => {
      cine.destroy();
      player.current = null;
    };
  }, [enabled, ready, viewerRef, frameTimeMs, fallbackRate]);

  const toggle = useCallback(() => player.current?.toggle(), []);
  const setFps = useCallback((value: number) => {
    const next = clampRate(value);
    setFpsState(next);
    player.current?.setFrameRate(next);
  }, []);
  return { enabled, playing, fps, toggle, setFps };
}

export function CineControls({ cine }: { cine: Cine }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <div className="ws-cine" data-testid="cine-controls">
      <button
        type="button"
        className={cine.playing ? "active" : ""}
        onClick={(e) => {
          cine.toggle();
          e.currentTarget.blur(); // Space must not "click" the focused button a second time
        }}
        title={cine.playing ? "Pause (Space)" : "Play (Space)"}
        aria-pressed={cine.playing}
        data-testid="cine-play"
      >
        {cine.playing ? "❚❚ Pause" : "▶ Play"}
      </button>
      <label className="field-inline">
        <input
          type="number"
          min={1}
          max={120}
          value={draft ?? String(cine.fps)}
          onChange={(e) => {
            setDraft(e.target.value);
            const value = Number(e.target.value);
            if (e.target.value !== "" && Number.isFinite(value) && value > 0) cine.setFps(value);
          }}
          onBlur={() => setDraft(null)}
          aria-label="Frames per second"
          data-testid="cine-fps"
        />
        fps
      </label>
    </div>
  );
}
