// Cine playback of a multi-frame stack: a timer that steps the viewer one frame at a time and
// loops. Frames that would pile up behind a slow render are skipped, never queued.
import type { StackViewer } from "./StackViewer";
import { imageMetadata, tagNumber } from "./dicomweb";

export class CinePlayer {
  private timer: number | null = null;
  private busy = false;
  private fps: number;
  onChange: (playing: boolean) => void = () => {};

  constructor(
    private readonly viewer: StackViewer,
    fps: number,
  ) {
    this.fps = fps;
  }

  get playing(): boolean {
    return this.timer != null;
  }

  get frameRate(): number {
    return this.fps;
  }

  play(): void {
    if (this.timer != null || this.viewer.imageIds.length < 2) return;
    this.timer = window.setInterval(() => this.step(), 1000 / this.fps);
    this.onChange(true);
  }

  pause(): void {
    if (this.timer == null) return;
    window.clearInterval(this.timer);
    this.timer = null;
    this.onChange(false);
  }

  toggle(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  setFrameRate(fps: number): void {
    this.fps = clampRate(fps);
    if (this.timer != null) {
      window.clearInterval(this.timer);
      this.timer = window.setInterval(() => this.step(), 1000 / this.fps);
    }
  }

  private step(): void {
    if (this.busy) return;
    const n = this.viewer.imageIds.length;
    this.busy = true;
    this.viewer
      .scrollTo((this.viewer.currentK + 1) % n)
      .catch(() => this.pause())
      .finally(() => {
        this.busy = false;
      });
  }

  destroy(): void {
    if (this.timer != null) window.clearInterval(this.timer);
    this.timer = null;
  }
}

export function clampRate(fps: number): number {
  return Math.max(1, Math.min(120, Math.round(fps) || 1));
}

/**
 * The frame rate to start from: the stack's frame time from the series API, else the header's
 * CineRate, RecommendedDisplayFrameRate or FrameTime, else the project's default.
 */
export function defaultFrameRate(frameTimeMs: number | null | undefined, imageId: string | undefined, fallback: number): number {
  if (frameTimeMs && frameTimeMs > 0) return clampRate(1000 / frameTimeMs);
  const meta = imageId ? imageMetadata(imageId) : undefined;
  const cineRate = tagNumber(meta, "00180040") ?? tagNumber(meta, "00082144");
  if (cineRate && cineRate > 0) return clampRate(cineRate);
  const frameTime = tagNumber(meta, "00181063");
  if (frameTime && frameTime > 0) return clampRate(1000 / frameTime);
  return clampRate(fallback);
}
