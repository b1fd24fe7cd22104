// The API's reference lists (modalities, label kinds, roles, …), fetched once per page load.
import { api } from "./api";
import { useAsync } from "./hooks/useAsync";
import type { AttributeTypeMeta, LabelKindMeta, Meta } from "./types";

let metaPromise: Promise<Meta> | null = null;

export function loadMeta(): Promise<Meta> {
  if (!metaPromise) {
    metaPromise = api.get<Meta>("meta/").catch((err: unknown) => {
      metaPromise = null; // let the next caller try again
      throw err;
    });
  }
  return metaPromise;
}

export function useMeta() {
  return useAsync(() => loadMeta(), []);
}

export function kindMeta(meta: Meta, code: string): LabelKindMeta | undefined {
  return meta.label_kinds.find((k) => k.code === code);
}

export function attributeTypeMeta(meta: Meta, code: string): AttributeTypeMeta | undefined {
  return meta.attribute_types.find((t) => t.code === code);
}

export function nameOf(list: { code: string; name: string }[], code: string): string {
  return list.find((x) => x.code === code)?.name ?? code;
}
