// One-time Cornerstone3D start-up: core, tools, the DICOM image loader and the tool classes.
import { init as coreInit, isCornerstoneInitialized } from "@cornerstonejs/core";
import {
  addTool,
  BidirectionalTool,
  BrushTool,
  init as toolsInit,
  LengthTool,
  PanTool,
  PlanarFreehandROITool,
  ProbeTool,
  RectangleROITool,
  StackScrollTool,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";
import { init as dicomImageLoaderInit } from "@cornerstonejs/dicom-image-loader";

let started: Promise<void> | null = null;

/** Initialise Cornerstone3D once per page (idempotent). */
export function ensureCornerstone(): Promise<void> {
  if (!started) {
    started = (async () => {
      if (!isCornerstoneInitialized()) coreInit();
      // Two decode workers: the machines this runs on are small, and uncompressed CT needs little.
      // Note: this purges the image cache and the wadors metadata manager, so metadata is
      // registered only after start-up (loadStackImageIds awaits this).
      dicomImageLoaderInit({ maxWebWorkers: Math.min(2, navigator.hardwareConcurrency || 1) });
      toolsInit();
      for (const tool of [
        WindowLevelTool,
        PanTool,
        ZoomTool,
        StackScrollTool,
        LengthTool,
        RectangleROITool,
        ProbeTool,
        BidirectionalTool,
        PlanarFreehandROITool,
        BrushTool,
      ]) {
        addTool(tool);
      }
    })();
  }
  return started;
}
