// The one place where Cornerstone's world coordinates (LPS millimetres) meet the API's voxel
// indices of a stack: i = column, j = row, k = slice, with pixel centres on integers.
// Cornerstone's image coordinates put the corner of the first pixel at 0 (its centre at 0.5),
// hence the half-pixel shift both ways.
import { utilities } from "@cornerstonejs/core";
import type { Types } from "@cornerstonejs/core";

export type IJ = [number, number];

const round = (v: number) => Math.round(v * 1000) / 1000;

/** World (LPS mm) point → [i, j] on the image `imageId`. */
export function worldToIJ(imageId: string, world: Types.Point3): IJ {
  const image = utilities.worldToImageCoords(imageId, world);
  if (!image) throw new Error("The image has no plane geometry.");
  return [round(image[0] - 0.5), round(image[1] - 0.5)];
}

/** [i, j] on the image `imageId` → world (LPS mm). */
export function ijToWorld(imageId: string, ij: readonly number[]): Types.Point3 {
  const world = utilities.imageToWorldCoords(imageId, [ij[0] + 0.5, ij[1] + 0.5] as Types.Point2);
  if (!world) throw new Error("The image has no plane geometry.");
  return world;
}

/** Canvas pixel → [i, j] (for tests and the cursor read-out). */
export function canvasToIJ(
  viewport: Types.IStackViewport,
  imageId: string,
  canvas: Types.Point2,
): IJ {
  return worldToIJ(imageId, viewport.canvasToWorld(canvas));
}

/** [i, j] → canvas pixel. */
export function ijToCanvas(viewport: Types.IStackViewport, imageId: string, ij: readonly number[]): Types.Point2 {
  return viewport.worldToCanvas(ijToWorld(imageId, ij));
}
