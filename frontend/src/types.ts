// Types for the objects of the REST API (/api/v1/). Keep in step with api/ serializers.

export interface Paginated<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Error body the API returns for every non-2xx response. */
export interface ApiErrorBody {
  code?: string;
  message?: string;
  detail?: string;
  errors?: Record<string, string[]>;
  current?: unknown;
  [key: string]: unknown;
}

export interface UserRef {
  id: number;
  username: string;
}

export interface User extends UserRef {
  first_name: string;
  last_name: string;
  email: string;
  is_staff: boolean;
}

// ---- meta ----

export interface Modality {
  code: string;
  name: string;
  display_defaults: Record<string, unknown>;
}

export interface LabelKindMeta {
  code: LabelKind;
  name: string;
  allowed_scopes: LabelScope[];
  needs_options: boolean;
  geometric: boolean;
}

export interface CodeName<C extends string = string> {
  code: C;
  name: string;
}

export interface AttributeTypeMeta {
  code: AttributeType;
  name: string;
  needs_options: boolean;
}

export interface Meta {
  modalities: Modality[];
  label_kinds: LabelKindMeta[];
  label_scopes: CodeName<LabelScope>[];
  attribute_types: AttributeTypeMeta[];
  roles: CodeName<Role>[];
}

export type ModalityCode = "CT" | "MR" | "CR" | "DX" | "MG" | "US" | (string & {});
export type Role = "manager" | "reviewer" | "annotator" | "viewer";
export type LabelKind =
  | "classification_single"
  | "classification_multi"
  | "ordinal"
  | "bounding_box"
  | "polygon"
  | "polyline"
  | "point"
  | "mask"
  | "length"
  | "bidirectional"
  | "free_text";
export type LabelScope = "study" | "series" | "image";
export type AttributeType = "enum" | "multi_enum" | "integer" | "number" | "boolean" | "text";

// ---- tokens ----

export interface ApiToken {
  id: number;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  active: boolean;
}

export interface ApiTokenCreated extends ApiToken {
  /** The full secret; the API returns it only in the response to POST. */
  key: string;
}

// ---- projects ----

export interface Project {
  id: number;
  name: string;
  description: string;
  modalities: ModalityCode[];
  readers_per_item: number;
  review_required: boolean;
  task_unit: TaskUnit;
  auto_assign: boolean;
  archived: boolean;
  display_settings: Record<string, unknown>;
  /** Display settings per modality: defaults merged with this project's overrides. */
  display?: Record<string, unknown>;
  owner: UserRef;
  my_role: Role | null;
  version: number;
  member_count: number;
  schema_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface ProjectInput {
  name: string;
  description: string;
  modalities: ModalityCode[];
  readers_per_item: number;
  review_required: boolean;
  task_unit: TaskUnit;
  auto_assign: boolean;
}

/** What one labeling task covers. */
export type TaskUnit = "study" | "series" | "image";

export interface ProjectPatch extends Partial<ProjectInput> {
  version: number;
  archived?: boolean;
  display_settings?: Record<string, unknown>;
}

export interface Member {
  id: number;
  user: UserRef & { first_name: string; last_name: string };
  role: Role;
  created_at: string;
}

// ---- label schema ----

export interface Option {
  value: string;
  label: string;
}

export interface Attribute {
  key: string;
  name: string;
  type: AttributeType;
  options: Option[];
  min: number | null;
  max: number | null;
  required: boolean;
}

export interface Label {
  key: string;
  name: string;
  color: string;
  kind: LabelKind;
  scope: LabelScope;
  description: string;
  required: boolean;
  options: Option[];
  attributes: Attribute[];
}

export interface LabelSchema {
  id: number;
  version: number;
  revision: number;
  labels: Label[];
  in_use: boolean;
  note: string;
  created_at: string;
  updated_at?: string;
  created_by: UserRef | null;
}

export interface SchemaChange {
  label: string;
  change: string;
  breaking: boolean;
}

export interface SchemaSaveResult {
  schema: LabelSchema;
  new_version: boolean;
  changes: SchemaChange[];
}

// ---- audit ----

export interface AuditEvent {
  id: number;
  created_at: string;
  actor: UserRef | null;
  project: number | null;
  object_type: string;
  object_id: string | number | null;
  object_repr: string;
  action: string;
  changes: Record<string, [unknown, unknown]>;
  request_id: string;
}

// ---- jobs ----

export type JobState = "queued" | "running" | "succeeded" | "failed";

export interface Job<R = Record<string, unknown>> {
  id: number | string;
  kind: string;
  queue: string;
  state: JobState;
  done: number;
  total: number | null;
  progress: number | null;
  message: string;
  result: R | null;
  error: string;
  /** The job produced a file, downloadable at jobs/{id}/download/. */
  has_file?: boolean;
  project: number | null;
  params?: Record<string, unknown>;
  worker?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface WorkerCheckResult {
  hostname: string;
  queue: string;
  device: string;
  torch_version: string | null;
  cuda_available: boolean;
  cuda_devices: unknown[];
  python: string;
}
