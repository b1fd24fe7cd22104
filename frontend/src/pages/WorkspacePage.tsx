// The labeling workspace page (/projects/:projectId/tasks/:taskId, full screen): loads the
// task, label schema, series geometry, stack frames and visible reading sets, then hands them
// to the Cornerstone3D workspace. ?review=1 opens the reviewer's view, where the set the reviewer
// edits (the reference, or a submitted reading being corrected) can change: the page reloads the
// sets and remounts the workspace on it.
import { useCallback, useState } from "react";
import { useParams, useSearchParams } from "react-router";
import { api, getAll } from "../api";
import { useUser } from "../auth";
import { ErrorAlert, Loading } from "../components/ui";
import { useAsync } from "../hooks/useAsync";
import type { LabelSchema, Project } from "../types";
import type { WorkspaceData } from "../workspace/Workspace";
import type { AnnotationSet, ModalityDisplay, SeriesDetail, StackFrames, Task } from "../workspace/types";

async function loadWorkspace(projectId: number, taskId: number, meId: number, review: boolean, signal: AbortSignal): Promise<WorkspaceData> {
  const base = `projects/${projectId}/`;
  const [task, schema, project, sets] = await Promise.all([
    api.get<Task>(`${base}tasks/${taskId}/`, undefined, signal),
    api.get<LabelSchema>(`${base}schema/`, undefined, signal),
    api.get<Project>(`projects/${projectId}/`, undefined, signal),
    getAll<AnnotationSet>(`${base}tasks/${taskId}/sets/`, undefined, signal),
  ]);
  if (!task.series) throw new Error("This task covers a whole study; the workspace opens one series at a time.");
  const stackIndex = task.image?.stack_index ?? 0;
  const [series, frames] = await Promise.all([
    api.get<SeriesDetail>(`${base}series/${task.series.id}/`, undefined, signal),
    api.get<StackFrames>(`${base}series/${task.series.id}/stacks/${stackIndex}/frames/`, undefined, signal),
  ]);
  const display = (project.display?.[series.modality] ?? {}) as ModalityDisplay;
  return {
    projectId,
    taskId,
    task,
    labels: schema.labels,
    series,
    stackIndex,
    startSlice: task.image?.slice_index ?? 0,
    frames,
    sets,
    presets: display.window_presets ?? [],
    initialWindow: display.initial_window ?? "header",
    meId,
    review,
    display,
    hanging: null,
  };
}

export function WorkspacePage() {
  const params = useParams();
  const [search] = useSearchParams();
  const me = useUser();
  const projectId = Number(params.projectId);
  const taskId = Number(params.taskId);
  const review = search.get("review") === "1";
  const [edit, setEdit] = useState<{ setId: number | null; generation: number }>({ setId: null, generation: 0 });
  const editSet = useCallback((setId: number | null) => setEdit((e) => ({ setId, generation: e.generation + 1 })), []);
  // Cornerstone3D (~4 MB) is its own chunk: fetched in parallel with the task's data, and never
  // by the other pages.
  const state = useAsync(
    async (signal) => {
      const [module, data] = await Promise.all([
        import("../workspace/Workspace"),
        loadWorkspace(projectId, taskId, me.id, review, signal),
      ]);
      // The mammography hanging reads DICOMweb metadata (Cornerstone's loader): after the chunk.
      const hanging = await module.loadHanging(data, signal);
      return { Workspace: module.Workspace, data: { ...data, hanging, editSetId: edit.setId, generation: edit.generation } };
    },
    [projectId, taskId, me.id, review, edit],
  );

  if (state.error) {
    return (
      <div className="ws-page-message" data-testid="workspace">
        <ErrorAlert error={state.error} testId="workspace-error" />
      </div>
    );
  }
  if (!state.data) {
    return (
      <div className="ws-page-message" data-testid="workspace">
        <Loading what="Opening the task…" />
      </div>
    );
  }
  const { Workspace, data } = state.data;
  return <Workspace key={`${projectId}/${taskId}/${review}/${data.generation ?? 0}`} data={data} onEditSet={editSet} />;
}
