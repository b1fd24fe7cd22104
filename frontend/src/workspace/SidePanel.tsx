// The right column: labels and their tools, mask segments, answers, findings, review and
// comments.
import { useState, type RefObject } from "react";
import type { Label } from "../types";
import type { StackViewer } from "../viewer/StackViewer";
import { AnswerForm } from "./AnswerForm";
import { Comments } from "./Comments";
import { ANSWER_KINDS, answerKey } from "./drawings";
import { FindingsPanel } from "./FindingsPanel";
import type { MaskLayers } from "./masks";
import { ReviewPanel } from "./ReviewPanel";
import { SegmentList } from "./SegmentList";
import { KIND_NAMES } from "./shortcuts";
import type { Entry, FindingStore, StoreSnapshot } from "./store";
import type { AnnotationSet, WorkspaceData } from "./types";

interface SidePanelProps {
  data: WorkspaceData;
  mySet: AnnotationSet | null;
  labelsByKey: Map<string, Label>;
  editable: boolean;
  ready: boolean;
  k: number;
  snapshot: StoreSnapshot;
  store: FindingStore;
  viewerRef: RefObject<StackViewer | null>;
  masks: MaskLayers | null;
  activeLabel: string | null;
  eraser: boolean;
  /** The AI region tool is on (click or box -> server segmentation into the mask). */
  aiRegion?: boolean;
  chooseAiRegion?(key?: string | null): void;
  brushSize: number;
  selected: string | null;
  chooseLabel(key: string | null, erase?: boolean): void;
  changeBrush(size: number): void;
  goToEntry(entry: Entry): void;
  deleteSelected(key: string | null): void;
  /** Review mode: the set being edited (reference or a reading under correction). */
  editSet: AnnotationSet | null;
  switchSet(setId: number | null): Promise<void>;
  flushEdits(): Promise<void>;
}

export function SidePanel(props: SidePanelProps) {
  const { data, mySet, labelsByKey, editable, ready, k, snapshot, store, activeLabel, eraser, brushSize, chooseLabel } = props;
  const { labels } = data;
  const [sideTab, setSideTab] = useState<"labels" | "comments">("labels");
  const drawingLabels = labels.filter((l) => !ANSWER_KINDS.includes(l.kind));
  const answerLabels = labels.filter((l) => ANSWER_KINDS.includes(l.kind));
  const findingEntries = snapshot.entries.filter((e) => !e.key.startsWith("answer:"));
  const layers = props.masks?.layers ?? [];
  const reviewing = data.review;

  const onAnswer = (label: Label, answer: Record<string, unknown> | null, attributes: Record<string, unknown>) => {
    if (!editable) return;
    const key = answerKey(label, k);
    if (!answer) store.remove(key);
    else store.put(key, label.key, { data: answer, attributes, slice_index: label.scope === "image" ? k : null }, true);
  };

  return (
    <aside className="ws-side">
      <div className="ws-tabs">
        <button type="button" className={sideTab === "labels" ? "active" : ""} onClick={() => setSideTab("labels")} data-testid="side-labels">
          Labels
        </button>
        <button type="button" className={sideTab === "comments" ? "active" : ""} onClick={() => setSideTab("comments")} data-testid="side-comments">
          Comments
        </button>
      </div>
      {sideTab === "comments" ? (
        <Comments projectId={data.projectId} taskId={data.taskId} />
      ) : (
        <>
          {reviewing && (
            <ReviewPanel data={data} viewerRef={props.viewerRef} editSet={props.editSet} switchSet={props.switchSet} flushEdits={props.flushEdits} />
          )}
          {(!reviewing || mySet) && (
            <>
              <section>
                <h3>Draw</h3>
                <ul className="ws-labels" data-testid="label-list">
                  {drawingLabels.map((label) => {
                    const n = labels.indexOf(label) + 1;
                    return (
                      <li key={label.key}>
                        <button
                          type="button"
                          className={activeLabel === label.key ? "active" : ""}
                          disabled={!editable || !ready}
                          onClick={() => chooseLabel(label.key)}
                          data-testid={`label-${label.key}`}
                          title={label.description || label.name}
                        >
                          <span className="ws-swatch" style={{ background: label.color }} />
                          <span className="ws-label-name">{label.name}</span>
                          <span className="muted">
                            {KIND_NAMES[label.kind] ?? label.kind}
                            {label.scope === "series" && label.kind !== "mask" ? " 3D" : ""}
                          </span>
                          {n <= 9 && <kbd>{n}</kbd>}
                        </button>
                      </li>
                    );
                  })}
                </ul>
                {activeLabel && labelsByKey.get(activeLabel)?.kind === "mask" && (
                  <div className="ws-brush" data-testid="brush-options">
                    <button type="button" className={!eraser && !props.aiRegion ? "active" : ""} onClick={() => chooseLabel(activeLabel)} data-testid="brush">
                      Brush
                    </button>
                    <button type="button" className={eraser ? "active" : ""} onClick={() => chooseLabel(activeLabel, true)} data-testid="eraser">
                      Eraser
                    </button>
                    {props.chooseAiRegion && (
                      <button
                        type="button"
                        className={props.aiRegion ? "active" : ""}
                        onClick={() => props.chooseAiRegion?.(activeLabel)}
                        data-testid="ai-region"
                        title="Click a structure or drag a box around it: the server segments it into this label (A)"
                      >
                        AI region
                      </button>
                    )}
                    <label className="field-inline">
                      Size
                      <input type="range" min={1} max={64} value={brushSize} onChange={(e) => props.changeBrush(Number(e.target.value))} data-testid="brush-size" />
                      <span className="mono">{brushSize}</span>
                    </label>
                  </div>
                )}
              </section>

              {layers.length > 0 && <SegmentList layers={layers} labelsByKey={labelsByKey} editable={editable} masks={props.masks} />}

              {answerLabels.length > 0 && (
                <section>
                  <h3>Answers</h3>
                  {answerLabels.map((label) => {
                    const entry = snapshot.entries.find((e) => e.key === answerKey(label, k));
                    const current = entry?.pending?.data ?? entry?.finding?.data ?? null;
                    const attributes = entry?.pending?.attributes ?? entry?.finding?.attributes ?? {};
                    return (
                      <AnswerForm
                        key={`${label.key}:${label.scope === "image" ? k : ""}:${entry?.finding?.id ?? "new"}`}
                        label={label}
                        data={current}
                        attributes={attributes}
                        readOnly={!editable}
                        source={entry?.finding?.source}
                        sliceNote={label.scope === "image" ? `(slice ${k + 1})` : undefined}
                        onAnswer={(answer, attrs) => onAnswer(label, answer, attrs)}
                      />
                    );
                  })}
                </section>
              )}

              <FindingsPanel
                entries={findingEntries}
                labelsByKey={labelsByKey}
                selected={props.selected}
                editable={editable}
                goToEntry={props.goToEntry}
                deleteSelected={props.deleteSelected}
                setAttributes={(key, values) => store.putAttributes(key, values)}
              />
            </>
          )}
        </>
      )}
    </aside>
  );
}
