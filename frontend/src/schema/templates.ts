// Starter schemas offered while a project's schema is empty.
import { kindMeta } from "../meta";
import type { Label, LabelScope, Meta } from "../types";
import { scopeFor } from "./draft";

export interface SchemaTemplate {
  id: string;
  title: string;
  summary: string;
  /** Labels with a preferred scope; the real scope is checked against the kind's allowed scopes. */
  labels: (Omit<Label, "scope"> & { scope: LabelScope[] })[];
}

const opts = (...pairs: [string, string][]) => pairs.map(([value, label]) => ({ value, label }));

export const TEMPLATES: SchemaTemplate[] = [
  {
    id: "mammography",
    title: "Mammography screening",
    summary: "BI-RADS 0–6 (ordinal), breast density A–D (ordinal), mass (bounding box)",
    labels: [
      {
        key: "birads",
        name: "BI-RADS assessment",
        color: "#f58231",
        kind: "ordinal",
        scope: ["study"],
        description: "ACR BI-RADS final assessment category.",
        required: true,
        options: opts(
          ["0", "0 – Incomplete: need additional imaging"],
          ["1", "1 – Negative"],
          ["2", "2 – Benign"],
          ["3", "3 – Probably benign"],
          ["4", "4 – Suspicious"],
          ["5", "5 – Highly suggestive of malignancy"],
          ["6", "6 – Known biopsy-proven malignancy"],
        ),
        attributes: [],
      },
      {
        key: "density",
        name: "Breast density",
        color: "#4363d8",
        kind: "ordinal",
        scope: ["study"],
        description: "ACR breast composition category.",
        required: true,
        options: opts(
          ["a", "A – Almost entirely fatty"],
          ["b", "B – Scattered fibroglandular density"],
          ["c", "C – Heterogeneously dense"],
          ["d", "D – Extremely dense"],
        ),
        attributes: [],
      },
      {
        key: "mass",
        name: "Mass",
        color: "#e6194b",
        kind: "bounding_box",
        scope: ["image"],
        description: "Box around each mass, on every view where it is visible.",
        required: false,
        options: [],
        attributes: [
          {
            key: "shape",
            name: "Shape",
            type: "enum",
            options: opts(["oval", "Oval"], ["round", "Round"], ["irregular", "Irregular"]),
            min: null,
            max: null,
            required: false,
          },
          {
            key: "margin",
            name: "Margin",
            type: "enum",
            options: opts(
              ["circumscribed", "Circumscribed"],
              ["obscured", "Obscured"],
              ["microlobulated", "Microlobulated"],
              ["indistinct", "Indistinct"],
              ["spiculated", "Spiculated"],
            ),
            min: null,
            max: null,
            required: false,
          },
        ],
      },
    ],
  },
  {
    id: "chest_ct_nodules",
    title: "Chest CT nodules",
    summary: "Nodule (mask) with type, nodule long axis (length), lungs (mask)",
    labels: [
      {
        key: "nodule",
        name: "Nodule",
        color: "#e6194b",
        kind: "mask",
        scope: ["series"],
        description: "Segment every pulmonary nodule.",
        required: false,
        options: [],
        attributes: [
          {
            key: "nodule_type",
            name: "Type",
            type: "enum",
            options: opts(["solid", "Solid"], ["part_solid", "Part-solid"], ["ground_glass", "Ground-glass"]),
            min: null,
            max: null,
            required: true,
          },
          {
            key: "calcified",
            name: "Calcified",
            type: "boolean",
            options: [],
            min: null,
            max: null,
            required: false,
          },
        ],
      },
      {
        key: "nodule_long_axis",
        name: "Nodule long axis",
        color: "#ffe119",
        kind: "length",
        scope: ["image", "series"],
        description: "Longest in-plane diameter of each nodule, in mm.",
        required: false,
        options: [],
        attributes: [],
      },
      {
        key: "lung",
        name: "Lung",
        color: "#3cb44b",
        kind: "mask",
        scope: ["series"],
        description: "Both lungs.",
        required: false,
        options: [],
        attributes: [],
      },
    ],
  },
  {
    id: "generic",
    title: "Generic",
    summary: "Finding (bounding box), comment (free text)",
    labels: [
      {
        key: "finding",
        name: "Finding",
        color: "#46f0f0",
        kind: "bounding_box",
        scope: ["image"],
        description: "Box around each finding.",
        required: false,
        options: [],
        attributes: [],
      },
      {
        key: "comment",
        name: "Comment",
        color: "#bcf60c",
        kind: "free_text",
        scope: ["study"],
        description: "Anything the reader wants to add.",
        required: false,
        options: [],
        attributes: [],
      },
    ],
  },
];

/** The template's labels with scopes valid for this server; kinds the server lacks are dropped. */
export function instantiateTemplate(template: SchemaTemplate, meta: Meta): Label[] {
  return template.labels
    .filter((l) => kindMeta(meta, l.kind))
    .map((l) => ({ ...l, scope: scopeFor(meta, l.kind, l.scope) }));
}
