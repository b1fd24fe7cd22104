// Types of the labeling manager endpoints (tasks, assignments, progress, uploads, PACS).
// Keep in step with api/labeling.py, api/labeling_progress.py, api/pacs.py and
// annotator/imaging/ingest.py (IngestReport).
import type { UserRef } from "../types";

export type TaskStatus = "new" | "in_progress" | "in_review" | "done" | "skipped";
export type AssignmentStatus = "assigned" | "in_progress" | "submitted" | "returned" | "accepted";

export const TASK_STATUSES: { code: TaskStatus; name: string }[] = [
  { code: "new", name: "New" },
  { code: "in_progress", name: "In progress" },
  { code: "in_review", name: "In review" },
  { code: "done", name: "Done" },
  { code: "skipped", name: "Skipped" },
];

/** Orderings of the task lists (the API's ?ordering=, comma-separated keys). */
export const ORDERINGS = [
  { value: "-priority,created_at", name: "Priority (highest first)" },
  { value: "due_date,-priority", name: "Due date (soonest first)" },
  { value: "created_at", name: "Created (oldest first)" },
  { value: "-created_at", name: "Created (newest first)" },
];

export const ASSIGNMENT_STATUS_NAMES: Record<AssignmentStatus, string> = {
  assigned: "Assigned",
  in_progress: "In progress",
  submitted: "Submitted",
  returned: "Returned",
  accepted: "Accepted",
};

export function taskStatusName(code: string): string {
  return TASK_STATUSES.find((s) => s.code === code)?.name ?? code;
}

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
  created_at: string;
}

export interface TaskStudy {
  id: number;
  study_instance_uid: string;
  study_date: string | null;
  description: string;
  patient: number | null;
}

export interface TaskSeries {
  id: number;
  modality: string;
  description: string;
  series_number: number | null;
}

export interface LabelingTask {
  id: number;
  unit: "study" | "series" | "image";
  status: TaskStatus;
  priority: number;
  triage_score: number | null;
  uncertainty: number | null;
  due_date: string | null;
  readers_required: number;
  study: TaskStudy;
  series: TaskSeries | null;
  instance: number | null;
  /** Every reader's slot for reviewers and managers; only one's own for readers. */
  assignments: Assignment[];
  my_assignment: Assignment | null;
  version: number;
  created_at: string;
  completed_at: string | null;
}

export interface TaskPatch {
  version: number;
  priority?: number;
  due_date?: string | null;
  readers_required?: number;
  skipped?: boolean;
}

// ---- progress ----

export interface DayCount {
  day: string;
  tasks_done: number;
  readings_completed: number;
}

export interface ReaderProgress {
  reader_id: number;
  username: string;
  assigned: number;
  in_progress: number;
  submitted: number;
  accepted: number;
  returned: number;
  completed: number;
  active_days: number;
  tasks_per_day: number;
  tasks_per_active_day: number | null;
  median_active_seconds: number | null;
  mean_seconds_to_submit: number | null;
}

export interface Progress {
  days: number;
  since: string;
  until: string;
  tasks_by_status: Record<TaskStatus, number>;
  total_tasks: number;
  open_slots: number;
  not_started: number;
  queue_depth: number;
  per_day: DayCount[];
  readers: ReaderProgress[];
  all_readers: boolean;
}

// ---- ingest ----

export interface IngestFileOutcome {
  name: string;
  status: "duplicate" | "conflict" | "rejected";
  code?: string;
  reason?: string;
  sop_instance_uid?: string;
}

export interface IngestReport {
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
  /** Details of every file that was not accepted (capped by the server). */
  files: IngestFileOutcome[];
  series: { id: number; modality: string; instances: number; burned_in_risk: boolean }[];
}

// ---- PACS ----

export type PacsKind = "dicomweb" | "dimse" | (string & {});

export interface PacsConnection {
  id: number;
  name: string;
  kind: PacsKind;
  base_url: string;
  has_auth_header: boolean;
  host: string;
  port: number | null;
  called_ae_title: string;
  calling_ae_title: string;
  retrieve_method: string;
  move_destination: string;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface PacsConnectionInput {
  name: string;
  kind: PacsKind;
  base_url?: string;
  auth_header?: string;
  host?: string;
  port?: number | null;
  called_ae_title?: string;
  calling_ae_title?: string;
  retrieve_method?: string;
  move_destination?: string;
}

export interface PacsSearch {
  patient_id?: string;
  patient_name?: string;
  study_date_from?: string | null;
  study_date_to?: string | null;
  modality?: string;
  accession_number?: string;
  limit?: number;
}

export interface PacsStudy {
  study_instance_uid: string;
  patient_id: string;
  patient_name: string;
  patient_birth_date: string;
  patient_sex: string;
  study_date: string;
  study_time: string;
  accession_number: string;
  study_description: string;
  modalities_in_study: string[];
  number_of_series: number | null;
  number_of_instances: number | null;
}
