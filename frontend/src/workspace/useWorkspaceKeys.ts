// Keyboard handling of the workspace (the "?" overlay lists the keys: shortcuts.ts).
import { useEffect, useRef, type RefObject } from "react";
import { annotation as csAnnotation } from "@cornerstonejs/tools";
import type { Label } from "../types";
import { TOOL, type StackViewer } from "../viewer/StackViewer";
import type { MaskLayers } from "./masks";
import { NAV_TOOLS, TOOL_KEYS } from "./shortcuts";
import type { FindingStore } from "./store";
import type { WindowPreset } from "./types";

export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
}

/** What the keys act on: the current state and actions, read afresh on every key press. */
export interface KeyContext {
  viewerRef: RefObject<StackViewer | null>;
  masksRef: RefObject<MaskLayers | null>;
  store: FindingStore;
  ready: boolean;
  help: boolean;
  setHelp(value: boolean | ((h: boolean) => boolean)): void;
  count: number;
  labels: Label[];
  labelsByKey: Map<string, Label>;
  activeLabel: string | null;
  selected: string | null;
  brushSize: number;
  presets: WindowPreset[];
  applyPreset(preset: WindowPreset): void;
  chooseLabel(key: string | null, erase?: boolean): void;
  chooseNavTool(tool: string): void;
  toggleInvert(): void;
  reset(): void;
  changeBrush(size: number): void;
  deleteSelected(key: string | null): void;
  /** Play/pause cine (Space); absent when the stack is not a cine. */
  toggleCine?: () => void;
  /** The AI region tool on the active (or first) mask label (A). */
  chooseAiRegion?: (key?: string | null) => void;
}

function handleKey(event: KeyboardEvent, c: KeyContext): void {
  if (isTyping(event.target)) return;
  const key = event.key;
  if (key === "?" || (key === "Escape" && c.help)) {
    c.setHelp(key === "?" ? (h) => !h : false);
    event.preventDefault();
    return;
  }
  const viewer = c.viewerRef.current;
  if (!viewer || !c.ready) return;
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "s") {
    event.preventDefault();
    void c.masksRef.current?.saveAll();
    void c.store.settle();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
    const preset = c.presets[Number(event.code.slice(5)) - 1];
    if (preset) c.applyPreset(preset);
    event.preventDefault();
    return;
  }
  const lower = key.toLowerCase();
  let handled = true;
  switch (key) {
    case "ArrowUp":
    case "ArrowLeft":
      void viewer.scrollBy(-1);
      break;
    case "ArrowDown":
    case "ArrowRight":
      void viewer.scrollBy(1);
      break;
    case "PageUp":
      void viewer.scrollBy(-10);
      break;
    case "PageDown":
      void viewer.scrollBy(10);
      break;
    case "Home":
      void viewer.scrollTo(0);
      break;
    case "End":
      void viewer.scrollTo(c.count - 1);
      break;
    case "Escape":
      c.chooseNavTool(TOOL.windowLevel);
      break;
    case "+":
    case "=":
      viewer.zoomBy(1.25);
      break;
    case "-":
      viewer.zoomBy(0.8);
      break;
    case "[":
      c.changeBrush(c.brushSize - 2);
      break;
    case "]":
      c.changeBrush(c.brushSize + 2);
      break;
    case "Delete":
    case "Backspace":
      c.deleteSelected(csAnnotation.selection.getAnnotationsSelected()[0] ?? c.selected);
      break;
    case " ":
      if (c.toggleCine) c.toggleCine();
      else handled = false;
      break;
    default:
      handled = false;
  }
  if (!handled && !event.shiftKey) {
    handled = true;
    if (/^[1-9]$/.test(key)) {
      const label = c.labels[Number(key) - 1];
      if (label) c.chooseLabel(label.key);
    } else if (lower === "w" || lower === "p" || lower === "z") {
      c.chooseNavTool(NAV_TOOLS.find((t) => t.key === lower)!.tool);
    } else if (lower === "i") {
      c.toggleInvert();
    } else if (lower === "r") {
      c.reset();
    } else if (lower === "a" && c.chooseAiRegion) {
      c.chooseAiRegion(c.activeLabel);
    } else if (lower === "e") {
      const current = c.activeLabel ? c.labelsByKey.get(c.activeLabel) : undefined;
      const mask = current?.kind === "mask" ? current : c.labels.find((l) => l.kind === "mask");
      if (mask) c.chooseLabel(mask.key, true);
    } else if (TOOL_KEYS[lower]) {
      const kind = TOOL_KEYS[lower];
      const current = c.activeLabel ? c.labelsByKey.get(c.activeLabel) : undefined;
      const label = current?.kind === kind ? current : c.labels.find((l) => l.kind === kind);
      if (label) c.chooseLabel(label.key);
    } else {
      handled = false;
    }
  }
  if (handled) event.preventDefault();
}

/** Listen to key presses on the window for the workspace's lifetime. */
export function useWorkspaceKeys(context: KeyContext): void {
  const current = useRef(context);
  current.current = context;
  useEffect(() => {
    const listener = (event: KeyboardEvent) => handleKey(event, current.current);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}
