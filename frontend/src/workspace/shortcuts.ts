// Keyboard shortcuts and names of the workspace's tools (the "?" overlay lists SHORTCUTS).
import { TOOL } from "../viewer/StackViewer";
import type { Shortcut } from "./HelpOverlay";

export const TOOL_KEYS: Record<string, string> = { b: "bounding_box", l: "length", t: "point", d: "bidirectional", f: "polygon", y: "polyline", m: "mask" };
export const KIND_NAMES: Record<string, string> = {
  bounding_box: "Box",
  length: "Length",
  point: "Point",
  bidirectional: "Bidirectional",
  polygon: "Polygon",
  polyline: "Polyline",
  mask: "Brush",
  classification_single: "Choice",
  classification_multi: "Choices",
  ordinal: "Scale",
  free_text: "Text",
};
export const NAV_TOOLS = [
  { tool: TOOL.windowLevel, name: "Window", key: "w" },
  { tool: TOOL.pan, name: "Pan", key: "p" },
  { tool: TOOL.zoom, name: "Zoom", key: "z" },
];

export const SHORTCUTS: Shortcut[] = [
  { keys: "Wheel, ↑ ↓, ← →", what: "Previous / next slice" },
  { keys: "PgUp / PgDn", what: "Ten slices back / forward" },
  { keys: "Home / End", what: "First / last slice" },
  { keys: "W", what: "Window/level tool (right drag always adjusts the window)" },
  { keys: "P", what: "Pan tool (middle drag always pans)" },
  { keys: "Z", what: "Zoom tool" },
  { keys: "+ / −", what: "Zoom in / out" },
  { keys: "I", what: "Invert" },
  { keys: "R", what: "Reset view" },
  { keys: "Shift+1…9", what: "Window presets in order" },
  { keys: "1…9", what: "Choose the n-th label (and its tool)" },
  { keys: "B", what: "Box (first box label)" },
  { keys: "L", what: "Length" },
  { keys: "T", what: "Point" },
  { keys: "D", what: "Bidirectional" },
  { keys: "F", what: "Polygon / freehand" },
  { keys: "Y", what: "Polyline" },
  { keys: "M", what: "Brush (first mask label)" },
  { keys: "E", what: "Eraser on the active mask label" },
  { keys: "A", what: "AI region: click a structure or drag a box around it (active mask label)" },
  { keys: "[ / ]", what: "Smaller / larger brush" },
  { keys: "Delete", what: "Delete the selected drawing" },
  { keys: "Ctrl+S", what: "Save now" },
  { keys: "?", what: "This help" },
  { keys: "Esc", what: "Close help, back to window/level" },
];

/** Listed only when the stack is a cine (ultrasound multi-frame). */
export const CINE_SHORTCUTS: Shortcut[] = [{ keys: "Space", what: "Play / pause the cine (loops)" }];
