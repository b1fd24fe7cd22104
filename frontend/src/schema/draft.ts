// The editable (draft) form of a label schema and its conversion to and from the API shape.
// Drafts carry a local uid on every label/attribute/option so that React keys and server
// errors ("labels.2.attributes.1.type") stay attached to the right row after reordering.
import { attributeTypeMeta, kindMeta } from "../meta";
import type { Attribute, AttributeType, Label, LabelKind, LabelScope, Meta, Option } from "../types";

let uidCounter = 0;
export const newUid = (): string => `u${++uidCounter}`;

export interface DraftOption {
  uid: string;
  value: string;
  label: string;
  /** The value was typed by hand (else it follows the option label). */
  valueTouched: boolean;
}

export interface DraftAttribute {
  uid: string;
  key: string;
  name: string;
  type: AttributeType;
  options: DraftOption[];
  /** Kept as text so that an empty input means "no limit". */
  min: string;
  max: string;
  required: boolean;
  keyTouched: boolean;
  /** Saved on the server already: its key is read-only. */
  existing: boolean;
}

export interface DraftLabel {
  uid: string;
  key: string;
  name: string;
  color: string;
  kind: LabelKind;
  scope: LabelScope;
  description: string;
  required: boolean;
  options: DraftOption[];
  attributes: DraftAttribute[];
  keyTouched: boolean;
  existing: boolean;
}

export const KEY_PATTERN = /^[a-z][a-z0-9_]*$/;
const KEY_MAX = 50;

/** "Long axis (mm)" → "long_axis_mm"; keys must match ^[a-z][a-z0-9_]*$. */
export function slugify(text: string): string {
  let slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (slug && !/^[a-z]/.test(slug)) slug = `l_${slug}`;
  return slug.slice(0, KEY_MAX).replace(/_+$/, "");
}

/** A slug of `text` that is not in `taken` (suffix _2, _3, …). */
export function uniqueSlug(text: string, taken: Iterable<string>): string {
  const base = slugify(text);
  if (!base) return "";
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}_${n}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** Option values: 1-32 of [A-Za-z0-9_.+-], may start with a digit ("4a"). */
export function optionValueFrom(label: string): string {
  return label
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 32);
}

export const PALETTE = [
  "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
  "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
];

export function nextColor(labels: { color: string }[]): string {
  const used = new Set(labels.map((l) => l.color.toLowerCase()));
  return PALETTE.find((c) => !used.has(c)) ?? PALETTE[labels.length % PALETTE.length];
}

export function optionToDraft(o: Option, touched = true): DraftOption {
  return { uid: newUid(), value: o.value, label: o.label, valueTouched: touched };
}

export function attributeToDraft(a: Attribute, existing: boolean): DraftAttribute {
  return {
    uid: newUid(),
    key: a.key,
    name: a.name,
    type: a.type,
    options: (a.options ?? []).map((o) => optionToDraft(o)),
    min: a.min == null ? "" : String(a.min),
    max: a.max == null ? "" : String(a.max),
    required: !!a.required,
    keyTouched: true,
    existing,
  };
}

export function labelToDraft(l: Label, existing: boolean): DraftLabel {
  return {
    uid: newUid(),
    key: l.key,
    name: l.name,
    color: l.color || "#4cc2ff",
    kind: l.kind,
    scope: l.scope,
    description: l.description ?? "",
    required: !!l.required,
    options: (l.options ?? []).map((o) => optionToDraft(o)),
    attributes: (l.attributes ?? []).map((a) => attributeToDraft(a, existing)),
    keyTouched: true,
    existing,
  };
}

/** Draft labels from saved ones: every key already on the server is marked existing. */
export function toDraft(labels: Label[]): DraftLabel[] {
  return labels.map((l) => labelToDraft(l, true));
}

/**
 * Re-mark which draft rows exist on `serverLabels` (after a save or when rebasing on
 * someone else's revision) without touching the edits.
 */
export function markExisting(draft: DraftLabel[], serverLabels: Label[]): DraftLabel[] {
  const byKey = new Map(serverLabels.map((l) => [l.key, l]));
  return draft.map((d) => {
    const server = byKey.get(d.key);
    const attrKeys = new Set((server?.attributes ?? []).map((a) => a.key));
    return {
      ...d,
      existing: !!server,
      keyTouched: d.keyTouched || !!server,
      attributes: d.attributes.map((a) => ({ ...a, existing: attrKeys.has(a.key), keyTouched: a.keyTouched || attrKeys.has(a.key) })),
    };
  });
}

/** Scope for `kind`: the first of `preferred` that the kind allows, else its first allowed scope. */
export function scopeFor(meta: Meta, kind: string, preferred: LabelScope[] = []): LabelScope {
  const allowed = kindMeta(meta, kind)?.allowed_scopes ?? meta.label_scopes.map((s) => s.code);
  return preferred.find((s) => allowed.includes(s)) ?? allowed[0] ?? "image";
}

export function emptyOption(): DraftOption {
  return { uid: newUid(), value: "", label: "", valueTouched: false };
}

export function newLabel(meta: Meta, labels: DraftLabel[]): DraftLabel {
  const kind: LabelKind = meta.label_kinds.some((k) => k.code === "bounding_box")
    ? "bounding_box"
    : (meta.label_kinds[0]?.code ?? "bounding_box");
  return {
    uid: newUid(),
    key: "",
    name: "",
    color: nextColor(labels),
    kind,
    scope: scopeFor(meta, kind, ["image"]),
    description: "",
    required: false,
    options: kindMeta(meta, kind)?.needs_options ? [emptyOption(), emptyOption()] : [],
    attributes: [],
    keyTouched: false,
    existing: false,
  };
}

export function newAttribute(): DraftAttribute {
  return {
    uid: newUid(),
    key: "",
    name: "",
    type: "enum",
    options: [emptyOption(), emptyOption()],
    min: "",
    max: "",
    required: false,
    keyTouched: false,
    existing: false,
  };
}

const NUMERIC_TYPES: ReadonlySet<string> = new Set(["integer", "number"]);
export const isNumericType = (type: string): boolean => NUMERIC_TYPES.has(type);

function parseLimit(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

const optionsOut = (options: DraftOption[]): Option[] => options.map((o) => ({ value: o.value, label: o.label }));

/** The API form of the draft: options only where the kind/type needs them, limits only for numbers. */
export function fromDraft(draft: DraftLabel[], meta: Meta): Label[] {
  return draft.map((d) => ({
    key: d.key,
    name: d.name,
    color: d.color,
    kind: d.kind,
    scope: d.scope,
    description: d.description,
    required: d.required,
    options: kindMeta(meta, d.kind)?.needs_options ? optionsOut(d.options) : [],
    attributes: d.attributes.map((a) => ({
      key: a.key,
      name: a.name,
      type: a.type,
      options: attributeTypeMeta(meta, a.type)?.needs_options ? optionsOut(a.options) : [],
      min: isNumericType(a.type) ? parseLimit(a.min) : null,
      max: isNumericType(a.type) ? parseLimit(a.max) : null,
      required: a.required,
    })),
  }));
}

/** Canonical JSON of labels, to tell whether the draft differs from the saved schema. */
export function labelsFingerprint(labels: Label[]): string {
  return JSON.stringify(
    labels.map((l) => ({
      ...l,
      description: l.description ?? "",
      options: l.options ?? [],
      attributes: (l.attributes ?? []).map((a) => ({ ...a, options: a.options ?? [], min: a.min ?? null, max: a.max ?? null })),
    })),
  );
}

// ---- server errors ----

/** Errors of one label, by path below the label ("name", "options", "options.1.value"). */
export type PathErrors = Record<string, string[]>;

export interface SchemaErrors {
  /** Errors not tied to one label (e.g. "labels" for duplicate keys, "base_revision", "note"). */
  general: { path: string; messages: string[] }[];
  byLabel: Record<string, PathErrors>;
  byAttribute: Record<string, PathErrors>;
  /** Every error with a readable location ("Label “Mass” › attribute “Shape” › type"). */
  summary: { where: string; messages: string[]; labelUid?: string }[];
}

export const NO_ERRORS: SchemaErrors = { general: [], byLabel: {}, byAttribute: {}, summary: [] };

/** Attach dotted-path errors to the draft rows that were sent (`sent` is the draft at save time). */
export function mapSchemaErrors(errors: Record<string, string[]>, sent: DraftLabel[]): SchemaErrors {
  const out: SchemaErrors = { general: [], byLabel: {}, byAttribute: {}, summary: [] };
  for (const [path, messages] of Object.entries(errors)) {
    const m = /^labels\.(\d+)(?:\.(.+))?$/.exec(path);
    const label = m ? sent[Number(m[1])] : undefined;
    if (!m || !label) {
      out.general.push({ path, messages });
      out.summary.push({ where: path === "labels" ? "Labels" : path, messages });
      continue;
    }
    const rest = m[2] ?? "";
    const labelName = `Label “${label.name || label.key || `#${Number(m[1]) + 1}`}”`;
    const am = /^attributes\.(\d+)(?:\.(.+))?$/.exec(rest);
    const attribute = am ? label.attributes[Number(am[1])] : undefined;
    if (am && attribute) {
      const attrRest = am[2] ?? "";
      (out.byAttribute[attribute.uid] ??= {})[attrRest] = messages;
      const attrName = `attribute “${attribute.name || attribute.key || `#${Number(am[1]) + 1}`}”`;
      out.summary.push({
        where: [labelName, attrName, attrRest].filter(Boolean).join(" › "),
        messages,
        labelUid: label.uid,
      });
    } else {
      (out.byLabel[label.uid] ??= {})[rest] = messages;
      out.summary.push({ where: [labelName, rest].filter(Boolean).join(" › "), messages, labelUid: label.uid });
    }
  }
  return out;
}

/** Errors in `errs` whose path is `prefix` or below it, re-keyed relative to `prefix`. */
export function errorsUnder(errs: PathErrors | undefined, prefix: string): PathErrors {
  const out: PathErrors = {};
  if (!errs) return out;
  for (const [path, msgs] of Object.entries(errs)) {
    if (path === prefix) out[""] = msgs;
    else if (path.startsWith(prefix + ".")) out[path.slice(prefix.length + 1)] = msgs;
  }
  return out;
}
