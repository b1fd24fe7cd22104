// A Cornerstone3D stack viewport with its tool group and labelmap segmentations: the only
// module of the workspace that talks to the rendering engine directly.
import {
  cache,
  Enums,
  eventTarget,
  imageLoader,
  RenderingEngine,
  utilities,
  type Types,
} from "@cornerstonejs/core";
import {
  BidirectionalTool,
  BrushTool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  PlanarFreehandROITool,
  ProbeTool,
  RectangleROITool,
  segmentation,
  StackScrollTool,
  ToolGroupManager,
  utilities as toolUtilities,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";
import type { Types as ToolTypes } from "@cornerstonejs/tools";
import { ensureCornerstone } from "./setup";

const { MouseBindings } = ToolEnums;

/** Tool names the workspace can make primary (left button). */
export const TOOL = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  length: LengthTool.toolName,
  box: RectangleROITool.toolName,
  point: ProbeTool.toolName,
  bidirectional: BidirectionalTool.toolName,
  polygon: PlanarFreehandROITool.toolName,
  polyline: "Polyline",
  brush: "CircularBrush",
  eraser: "CircularEraser",
} as const;
export type ToolName = (typeof TOOL)[keyof typeof TOOL];

/** Tools whose drawings are annotations (saved as findings). */
export const ANNOTATION_TOOLS: readonly string[] = [
  TOOL.length,
  TOOL.box,
  TOOL.point,
  TOOL.bidirectional,
  TOOL.polygon,
  TOOL.polyline,
];

export interface Voi {
  center: number;
  width: number;
}

let counter = 0;

// One rendering engine per page, shared by every viewport (a hanging shows several): each
// engine holds a pool of WebGL contexts, and browsers lose contexts past about 16.
const ENGINE_ID = "workspace-engine";
let sharedEngine: RenderingEngine | null = null;
let engineUsers = 0;

function acquireEngine(): RenderingEngine {
  if (!sharedEngine) sharedEngine = new RenderingEngine(ENGINE_ID);
  engineUsers += 1;
  return sharedEngine;
}

function releaseEngine(engine: RenderingEngine, viewportId: string): void {
  engineUsers -= 1;
  if (engineUsers > 0) {
    engine.disableElement(viewportId);
    return;
  }
  engine.destroy();
  if (sharedEngine === engine) sharedEngine = null;
}

export class StackViewer {
  readonly element: HTMLDivElement;
  readonly renderingEngineId: string;
  readonly viewportId: string;
  readonly toolGroupId: string;
  imageIds: string[] = [];
  private engine: RenderingEngine | null = null;
  private primary: string = TOOL.windowLevel;
  private readonly cleanups: (() => void)[] = [];
  private destroyed = false;

  onSlice: (k: number) => void = () => {};
  onVoi: (voi: Voi) => void = () => {};
  onFirstRender: () => void = () => {};

  constructor(element: HTMLDivElement) {
    counter += 1;
    this.element = element;
    this.renderingEngineId = ENGINE_ID;
    this.viewportId = `workspace-viewport-${counter}`;
    this.toolGroupId = `workspace-tools-${counter}`;
  }

  get viewport(): Types.IStackViewport {
    if (!this.engine) throw new Error("The viewer is not open.");
    return this.engine.getViewport(this.viewportId) as Types.IStackViewport;
  }

  /** Create the viewport and show `imageIds` (in stack order) from slice `k`. */
  async open(imageIds: string[], k = 0): Promise<void> {
    await ensureCornerstone();
    if (this.destroyed) return;
    this.imageIds = imageIds;
    this.engine = acquireEngine();
    this.engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] as Types.Point3 },
    });
    this.setUpTools();
    const element = this.element;
    const onNewImage = (event: Event) => {
      const detail = (event as CustomEvent<{ imageIdIndex: number }>).detail;
      this.onSlice(detail.imageIdIndex);
    };
    const onVoi = (event: Event) => {
      const detail = (event as CustomEvent<{ range: Types.VOIRange }>).detail;
      if (detail?.range) this.onVoi(this.toVoi(detail.range));
    };
    let firstRender = true;
    const onRendered = () => {
      if (firstRender) {
        firstRender = false;
        this.onFirstRender();
      }
    };
    element.addEventListener(Enums.Events.STACK_NEW_IMAGE, onNewImage);
    element.addEventListener(Enums.Events.VOI_MODIFIED, onVoi);
    element.addEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
    this.cleanups.push(() => {
      element.removeEventListener(Enums.Events.STACK_NEW_IMAGE, onNewImage);
      element.removeEventListener(Enums.Events.VOI_MODIFIED, onVoi);
      element.removeEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
    });
    await this.viewport.setStack(imageIds, k);
    this.viewport.render();
  }

  private setUpTools(): void {
    ToolGroupManager.destroyToolGroup(this.toolGroupId);
    const group = ToolGroupManager.createToolGroup(this.toolGroupId);
    if (!group) throw new Error("Could not create the tool group.");
    for (const name of [
      WindowLevelTool.toolName,
      PanTool.toolName,
      ZoomTool.toolName,
      StackScrollTool.toolName,
      LengthTool.toolName,
      RectangleROITool.toolName,
      ProbeTool.toolName,
      BidirectionalTool.toolName,
      PlanarFreehandROITool.toolName,
    ]) {
      group.addTool(name);
    }
    group.addToolInstance(TOOL.polyline, PlanarFreehandROITool.toolName, { allowOpenContours: true });
    group.addToolInstance(TOOL.brush, BrushTool.toolName, { activeStrategy: "FILL_INSIDE_CIRCLE" });
    group.addToolInstance(TOOL.eraser, BrushTool.toolName, { activeStrategy: "ERASE_INSIDE_CIRCLE" });
    group.addViewport(this.viewportId, this.renderingEngineId);
    group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    group.setToolActive(WindowLevelTool.toolName, {
      bindings: [{ mouseButton: MouseBindings.Primary }, { mouseButton: MouseBindings.Secondary }],
    });
    for (const name of ANNOTATION_TOOLS) group.setToolPassive(name);
  }

  private get group() {
    const group = ToolGroupManager.getToolGroup(this.toolGroupId);
    if (!group) throw new Error("The tool group is gone.");
    return group;
  }

  /** Make `tool` the left-button tool; window/level stays on the right, pan on the middle button. */
  setPrimaryTool(tool: string, readOnly = false): void {
    const group = this.group;
    const previous = this.primary;
    if (previous === tool) return;
    // Passive drops only the primary binding (W/L keeps the right button, pan the middle);
    // passive annotation tools still let existing drawings be edited.
    if (readOnly && ANNOTATION_TOOLS.includes(previous)) group.setToolEnabled(previous);
    else group.setToolPassive(previous);
    group.setToolActive(tool, { bindings: [{ mouseButton: MouseBindings.Primary }] });
    this.primary = tool;
  }

  /** Drawings can be seen but not changed (submitted readings, other readers' sets). */
  setReadOnly(readOnly: boolean): void {
    const group = this.group;
    for (const name of ANNOTATION_TOOLS) {
      if (name === this.primary) continue;
      if (readOnly) group.setToolEnabled(name);
      else group.setToolPassive(name);
    }
    if (readOnly) this.setPrimaryTool(TOOL.windowLevel, true);
  }

  setBrushSize(size: number): void {
    toolUtilities.segmentation.setBrushSizeForToolGroup(this.toolGroupId, size);
  }

  get currentK(): number {
    return this.viewport.getCurrentImageIdIndex();
  }

  get currentImageId(): string {
    return this.imageIds[this.currentK];
  }

  async scrollTo(k: number): Promise<void> {
    const target = Math.max(0, Math.min(this.imageIds.length - 1, Math.round(k)));
    await this.viewport.setImageIdIndex(target);
  }

  scrollBy(delta: number): Promise<void> {
    return this.scrollTo(this.currentK + delta);
  }

  private toVoi(range: Types.VOIRange): Voi {
    const { windowWidth, windowCenter } = utilities.windowLevel.toWindowLevel(range.lower, range.upper);
    return { center: windowCenter, width: windowWidth };
  }

  getVoi(): Voi | null {
    const range = this.viewport.getProperties().voiRange;
    return range ? this.toVoi(range) : null;
  }

  setWindow(center: number, width: number): void {
    const voiRange = utilities.windowLevel.toLowHighRange(width, center);
    this.viewport.setProperties({ voiRange });
    this.viewport.render();
    this.onVoi({ center, width });
  }

  get inverted(): boolean {
    return Boolean(this.viewport.getProperties().invert);
  }

  setInvert(invert: boolean): void {
    this.viewport.setProperties({ invert });
    this.viewport.render();
  }

  zoomBy(factor: number): void {
    const camera = this.viewport.getCamera();
    if (camera.parallelScale) {
      this.viewport.setCamera({ parallelScale: camera.parallelScale / factor });
      this.viewport.render();
    }
  }

  reset(): void {
    this.viewport.resetCamera();
    this.viewport.resetProperties();
    this.viewport.render();
    const voi = this.getVoi();
    if (voi) this.onVoi(voi);
  }

  render(): void {
    this.viewport.render();
  }

  // ---- labelmap segmentations (one per mask label: overlapping labels stay separate) ----

  /** Create a labelmap segmentation on the stack with segment 1 in `color` (RGBA 0-255). */
  addLabelmap(segmentationId: string, label: string, color: Types.Color): string[] {
    const derived = imageLoader.createAndCacheDerivedLabelmapImages(this.imageIds);
    const labelmapIds = derived.map((image) => image.imageId);
    segmentation.addSegmentations([
      {
        segmentationId,
        representation: {
          type: ToolEnums.SegmentationRepresentations.Labelmap,
          data: { imageIds: labelmapIds },
        },
        config: { label, segments: { 1: { segmentIndex: 1, label, locked: false, active: true, cachedStats: {} } } },
      },
    ]);
    segmentation.addLabelmapRepresentationToViewport(this.viewportId, [{ segmentationId }]);
    segmentation.config.color.setSegmentIndexColor(this.viewportId, segmentationId, 1, color);
    return labelmapIds;
  }

  /** Brush and eraser paint segment 1 of this segmentation from now on. */
  setActiveLabelmap(segmentationId: string): void {
    segmentation.activeSegmentation.setActiveSegmentation(this.viewportId, segmentationId);
    segmentation.segmentIndex.setActiveSegmentIndex(segmentationId, 1);
  }

  setLabelmapVisible(segmentationId: string, visible: boolean): void {
    segmentation.config.visibility.setSegmentIndexVisibility(
      this.viewportId,
      { segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
      1,
      visible,
    );
  }

  setLabelmapLocked(segmentationId: string, locked: boolean): void {
    segmentation.segmentLocking.setSegmentIndexLocked(segmentationId, 1, locked);
  }

  /** The voxels of one labelmap slice (rows*columns, row-major). */
  labelmapSlice(labelmapImageId: string): ArrayLike<number> {
    const image = cache.getImage(labelmapImageId);
    if (!image) throw new Error("The labelmap slice is not in the cache.");
    return image.voxelManager ? (image.voxelManager.getScalarData() as ArrayLike<number>) : image.getPixelData();
  }

  /** Overwrite one labelmap slice (values 0/1) and redraw. */
  setLabelmapSlice(segmentationId: string, labelmapImageId: string, bits: ArrayLike<number>): void {
    const image = cache.getImage(labelmapImageId);
    if (!image) return;
    const data = (image.voxelManager ? image.voxelManager.getScalarData() : image.getPixelData()) as Types.PixelDataTypedArray;
    for (let n = 0; n < data.length; n++) data[n] = bits[n] ? 1 : 0;
    segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(segmentationId);
  }

  /** Listen to brush/eraser changes: (segmentationId) after each modification. */
  onLabelmapModified(listener: (segmentationId: string) => void): void {
    const handler = (event: Event) => {
      const detail = (event as CustomEvent<ToolTypes.EventTypes.SegmentationDataModifiedEventDetail>).detail;
      listener(detail.segmentationId);
    };
    eventTarget.addEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, handler);
    this.cleanups.push(() => eventTarget.removeEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, handler));
  }

  /** Listen to a cornerstone-tools event on the global event target. */
  on(eventName: string, handler: (event: Event) => void): void {
    eventTarget.addEventListener(eventName, handler);
    this.cleanups.push(() => eventTarget.removeEventListener(eventName, handler));
  }

  destroy(): void {
    this.destroyed = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    try {
      segmentation.removeAllSegmentationRepresentations();
      segmentation.removeAllSegmentations();
    } catch {
      // Nothing was set up yet.
    }
    ToolGroupManager.destroyToolGroup(this.toolGroupId);
    if (this.engine) releaseEngine(this.engine, this.viewportId);
    this.engine = null;
  }
}
