// The one place where Cornerstone's world coordinates (LPS millimetres) meet the API's voxel
// indices of a stack: i = column, j = row, k = slice, with pixel centres on integers.
//
// The conversion is done here from the image plane (DICOM semantics: i steps along the row
// direction by the column spacing, PixelSpacing[1]; j along the column direction by the row
// spacing, PixelSpacing[0]) rather than with utilities.worldToImageCoords/imageToWorldCoords:
// in Cornerstone3D 5.14 those scale i by the row spacing and j by the column spacing, which is
// only right for square pixels (the renderer itself uses the right ones).
import { metaData } from "@cornerstonejs/core";
import type { Types } from "@cornerstonejs/core";

export type IJ = [number, number];

const round = (v: number) => Math.round(v * 1000) / 1000;

interface Plane {
  origin: Types.Point3;
  rowCosines: Types.Point3;
  columnCosines: Types.Point3;
  /** mm between neighbouring columns (along i) and rows (along j). */
  iSpacing: number;
  jSpacing: number;
}

function planeOf(imageId: string): Plane {
  const module = metaData.get("imagePlaneModule", imageId) as
    | {
        imagePositionPatient?: Types.Point3;
        rowCosines?: Types.Point3;
        columnCosines?: Types.Point3;
        rowPixelSpacing?: number | null;
        columnPixelSpacing?: number | null;
      }
    | undefined;
  if (!module?.imagePositionPatient || !module.rowCosines || !module.columnCosines) {
    throw new Error("The image has no plane geometry.");
  }
  return {
    origin: module.imagePositionPatient,
    rowCosines: module.rowCosines,
    columnCosines: module.columnCosines,
    iSpacing: module.columnPixelSpacing || 1,
    jSpacing: module.rowPixelSpacing || 1,
  };
}

/** World (LPS mm) point → [i, j] on the image `imageId`. */
export function worldToIJ(imageId: string, world: Types.Point3): IJ {
  const { origin, rowCosines, columnCosines, iSpacing, jSpacing } = planeOf(imageId);
  const d = [world[0] - origin[0], world[1] - origin[1], world[2] - origin[2]];
  const along = (axis: Types.Point3) => d[0] * axis[0] + d[1] * axis[1] + d[2] * axis[2];
  return [round(along(rowCosines) / iSpacing), round(along(columnCosines) / jSpacing)];
}

/** [i, j] on the image `imageId` → world (LPS mm). */
export function ijToWorld(imageId: string, ij: readonly number[]): Types.Point3 {
  const { origin, rowCosines, columnCosines, iSpacing, jSpacing } = planeOf(imageId);
  const at = (n: number) => origin[n] + rowCosines[n] * ij[0] * iSpacing + columnCosines[n] * ij[1] * jSpacing;
  return [at(0), at(1), at(2)];
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
