// Shapes of the lesion-tracking API (api/patients.py, api/labeling_tracking.py).
import type { UserRef } from "../types";

export interface PatientStudy {
  id: number;
  study_date: string | null;
  description: string;
  accession_number: string;
}

export interface Patient {
  id: number;
  pseudonym: string;
  studies: PatientStudy[];
  track_count: number;
  created_at: string;
}

export interface LesionMeasurement {
  id: number;
  study: number;
  study_date: string | null;
  annotation: number | null;
  long_axis_mm: number;
  short_axis_mm: number | null;
  created_by: UserRef | null;
  created_at: string;
}

export interface LesionTrack {
  id: number;
  patient: number;
  patient_pseudonym: string;
  name: string;
  nodal: boolean;
  target: boolean;
  version: number;
  created_by: UserRef | null;
  created_at: string;
  measurements: LesionMeasurement[];
}

export type RecistResponse = "CR" | "PR" | "SD" | "PD" | "NE";

export interface RecistLesion {
  track: number;
  name: string;
  nodal: boolean;
  target: boolean;
  long_axis_mm: number | null;
  short_axis_mm: number | null;
  counted_mm: number | null;
}

export interface RecistTimePoint {
  study: number;
  date: string | null;
  baseline: boolean;
  lesions: RecistLesion[];
  sum_mm: number | null;
  nadir_mm: number | null;
  change_from_baseline_mm: number | null;
  change_from_baseline_pct: number | null;
  change_from_nadir_mm: number | null;
  change_from_nadir_pct: number | null;
  response: RecistResponse | null;
  missing: number[];
}

export interface Recist {
  patient: number;
  patient_pseudonym: string;
  targets: number[];
  non_targets: number[];
  time_points: RecistTimePoint[];
  warnings: string[];
}

export const RESPONSE_NAMES: Record<RecistResponse, string> = {
  CR: "Complete response",
  PR: "Partial response",
  SD: "Stable disease",
  PD: "Progressive disease",
  NE: "Not evaluable",
};
