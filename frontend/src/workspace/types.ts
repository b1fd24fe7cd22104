// Shapes of the labeling API objects the workspace reads (see api/labeling.py serializers).
import type { Label, UserRef } from "../types";

export type AssignmentStatus = "assigned" | "in_progress" | "submitted" | "returned" | "accepted" | (string & {});

export interface Assignment {
  id: number;
  task: number;
  reader: UserRef;
  status: AssignmentStatus;
  method: string;
  annotation_set: number;
  active_seconds: number;
  started_at: string | null;
  submitted_at: string | null;
  reviewed_at: string | null;
  review_comment: string;
  version: number;
}

export interface Task {
  id: number;
  unit: "study" | "series" | "image";
  status: string;
  priority: number;
  due_date: string | null;
  study: { id: number; study_instance_uid: string; description: string; study_date?: string };
  series: { id: number; modality: string; description: string; series_number: number | null } | null;
  instance: number | null;
  /** For an image task: where its image sits in the series (stack and slice k). */
  image: { sop_instance_uid: string; stack_index: number; slice_index: number | null } | null;
  assignments: Assignment[];
  my_assignment: Assignment | null;
  version: number;
}

export interface WindowPreset {
  name: string;
  center: number;
  width: number;
}

export interface StackInfo {
  id: number;
  index: number;
  role: string;
  size: [number, number, number];
  spacing: [number, number, number];
  origin: [number, number, number];
  direction: number[];
  /** Milliseconds between frames of a cine stack (from the header), else null. */
  frame_time_ms?: number | null;
}

export interface SeriesDetail {
  id: number;
  study?: number;
  laterality?: string;
  study_instance_uid: string;
  series_instance_uid: string;
  modality: string;
  description: string;
  display: { windows?: WindowPreset[] } & Record<string, unknown>;
  stacks: StackInfo[];
}

export interface StackFrames {
  stack: number;
  study_instance_uid: string;
  series_instance_uid: string;
  frames: { k: number; sop_instance_uid: string; frame: number }[];
}

export interface Finding {
  id: number;
  annotation_set: number;
  label_key: string;
  kind: string;
  scope: string;
  stack: number | null;
  slice_index: number | null;
  data: Record<string, unknown>;
  attributes: Record<string, unknown>;
  measurements: Record<string, number | number[]>;
  source: "human" | "model" | "import" | (string & {});
  deleted: boolean;
  version: number;
}

export interface AnnotationSet {
  id: number;
  task: number;
  kind: string;
  assignment: number | null;
  reader: UserRef | null;
  /** A reference set that adjudication closed: read-only from then on. */
  final?: boolean;
  /** The set a reference (or a seeded reading) was copied from; null for a merge. */
  based_on?: number | null;
  version: number;
  annotations: Finding[];
}

export interface TaskComment {
  id: number;
  task: number;
  annotation: number | null;
  author: UserRef | null;
  text: string;
  kind: string;
  created_at: string;
}

/** One cell of a hanging protocol (mammography 2x2): which image, and whether it is drawn on. */
export interface HangingCell {
  laterality: string;
  view: string;
  /** The image shown, null when the study lacks that view. */
  imageId: string | null;
  /** The current task's image: this cell holds the drawing viewport. */
  active: boolean;
}

/** Display settings of the task's modality (the project's settings over the defaults). */
export interface ModalityDisplay {
  layout?: string;
  window_presets?: WindowPreset[];
  initial_window?: string;
  invert?: boolean;
  hanging?: [string, string][];
  default_frame_rate?: number;
}

/** Everything the workspace needs, loaded before it mounts (pages/WorkspacePage.tsx). */
export interface WorkspaceData {
  projectId: number;
  taskId: number;
  task: Task;
  labels: Label[];
  series: SeriesDetail;
  /** The stack shown (an image task's own stack, else the main one) and the slice to open on. */
  stackIndex: number;
  startSlice: number;
  frames: StackFrames;
  sets: AnnotationSet[];
  presets: WindowPreset[];
  initialWindow: string;
  meId: number;
  review: boolean;
  /** The modality's display settings (layout, hanging, default frame rate…). */
  display?: ModalityDisplay;
  /** Mammography hanging (2x2) when the study has the views, else null. */
  hanging?: HangingCell[] | null;
  /** Review mode: the set the reviewer edits (a submitted reading being corrected); null means
   * the task's reference when there is one, else nothing is editable. */
  editSetId?: number | null;
  /** Bumped on every reload of the page's data (the workspace remounts on it). */
  generation?: number;
}

/** Timing marks (performance.now() ms) read by the end-to-end test. */
export interface WorkspaceMarks {
  mounted: number;
  firstImage?: number;
  stackLoaded?: number;
}
