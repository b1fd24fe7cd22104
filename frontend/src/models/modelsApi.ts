// The model registry, pre-annotation, training and correction analytics endpoints
// (api/ml_models.py, api/ml_training.py, api/ml_analytics.py) as the Models tab uses them.
import { api, apiUrl, ApiError, asPage, csrfToken } from "../api";
import type { ApiErrorBody, Job, Paginated } from "../types";

export interface RegisteredModel {
  id: number;
  name: string;
  version: number;
  tag: string;
  kind: string;
  source: "builtin" | "torchscript" | "trained";
  builtin: string;
  label_map: Record<string, string>;
  input_spec: Record<string, unknown>;
  metrics: Record<string, unknown>;
  description: string;
  active: boolean;
  has_weights: boolean;
  created_by: string | null;
  revision: number;
  created_at: string;
}

export interface Builtin {
  key: string;
  outputs: string[];
  modalities: string[];
  description: string;
}

export interface Prediction {
  id: number;
  model_tag: string;
  task: number;
  series: number | null;
  status: "running" | "succeeded" | "failed";
  job: string | number | null;
  score: number | null;
  uncertainty: number | null;
  seconds: number | null;
  device: string;
  error: string;
  created_at: string;
}

export interface LabelOverlap {
  label_key: string;
  cases: number;
  dice_mean: number | null;
  dice_median: number | null;
  hd95_mean_mm: number | null;
  hd95_median_mm: number | null;
  hd95_cases: number;
  missed: number;
  spurious: number;
}

export interface EditingTime {
  readings: number;
  median_seconds: number | null;
  mean_seconds: number | null;
}

export interface ModelAnalytics {
  model_id: number;
  tag: string;
  tasks_predicted: number;
  tasks_done: number;
  tasks_compared: number;
  findings_seeded: number;
  findings_unchanged: number;
  accepted_unchanged_share: number | null;
  labels: LabelOverlap[];
  editing_with_model: EditingTime;
  editing_without_model: EditingTime;
}

const base = (projectId: number) => `projects/${projectId}/models/`;

export const modelsApi = {
  list: async (projectId: number, signal?: AbortSignal) =>
    asPage(await api.get<Paginated<RegisteredModel> | RegisteredModel[]>(base(projectId), { page_size: 500 }, signal)).results,
  builtins: (projectId: number, signal?: AbortSignal) => api.get<Builtin[]>(`${base(projectId)}builtins/`, undefined, signal),
  analytics: (projectId: number, signal?: AbortSignal) =>
    api.get<ModelAnalytics[]>(`projects/${projectId}/model-analytics/`, undefined, signal),
  predictions: async (projectId: number, modelId: number, signal?: AbortSignal) =>
    asPage(await api.get<Paginated<Prediction> | Prediction[]>(`${base(projectId)}${modelId}/predictions/`, { page_size: 100 }, signal)),
  setActive: (projectId: number, model: RegisteredModel, active: boolean) =>
    api.patch<RegisteredModel>(`${base(projectId)}${model.id}/`, { active, revision: model.revision }),
  addBuiltin: (projectId: number, body: { name: string; builtin: string; label_map: Record<string, string>; description?: string }) =>
    api.post<RegisteredModel>(`${base(projectId)}builtin/`, body),
  train: (projectId: number, body: { name: string; labels: string[]; epochs: number }) =>
    api.post<Job>(`${base(projectId)}train/`, body),
  predict: (projectId: number, modelId: number, body: { unlabeled: true } | { task_ids: number[] }) =>
    api.post<Job>(`${base(projectId)}${modelId}/predict/`, body),
  /** Every task id of the project (pages of 500), for "pre-annotate all". */
  allTaskIds: async (projectId: number): Promise<number[]> => {
    const ids: number[] = [];
    let next: string | null = `projects/${projectId}/tasks/`;
    let query: Record<string, number> | undefined = { page_size: 500 };
    while (next) {
      const page: Paginated<{ id: number }> = asPage(await api.get<Paginated<{ id: number }> | { id: number }[]>(next, query));
      ids.push(...page.results.map((t) => t.id));
      next = page.next;
      query = undefined;
    }
    return ids;
  },
  /** Upload a TorchScript file with its metadata (multipart; api.ts speaks JSON only). */
  registerTorchScript: async (projectId: number, form: FormData): Promise<RegisteredModel> => {
    const response = await fetch(apiUrl(base(projectId)), {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": (await csrfToken()) ?? "" },
      body: form,
      credentials: "same-origin",
    });
    const text = await response.text();
    const data: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const body = data as ApiErrorBody | null;
      throw new ApiError(response.status, body, body?.message ?? `Upload failed (HTTP ${response.status}).`);
    }
    return data as RegisteredModel;
  },
};
