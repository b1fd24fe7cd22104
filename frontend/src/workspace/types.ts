// Shapes of the labeling API objects the workspace reads (see api/labeling.py serializers).
import type { UserRef } from "../types";

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
}

export interface SeriesDetail {
  id: number;
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
