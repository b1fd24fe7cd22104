// The mask wire format (application/vnd.annotator.mask), both ways:
//   b"AMSK" | uint8 version 1 | 3 zero bytes | uint32 LE header length | JSON header | chunks
// A chunk is one segment's slice k: zlib(packbits(bool[rows, columns] row-major, little bit
// order)); voxel (j, i) is bit (j*columns+i) % 8 of byte (j*columns+i) / 8; length 0 = empty.

export const MASK_MEDIA_TYPE = "application/vnd.annotator.mask";

export interface MaskSlice {
  segment: number;
  k: number;
  /** rows*columns values; any non-zero value is "in". Omitted or all zero: an empty slice. */
  bits: ArrayLike<number> | null;
}

export interface DecodedMask {
  shape: [number, number, number];
  version?: number;
  segments?: { number: number; label: string }[];
  slices: { segment: number; k: number; bits: Uint8Array | null }[];
}

/** Pack a slice's voxels to bytes (numpy packbits, bitorder little); null when all empty. */
export function packSlice(values: ArrayLike<number>, count: number): Uint8Array | null {
  const out = new Uint8Array(Math.ceil(count / 8));
  let any = false;
  for (let n = 0; n < count; n++) {
    if (values[n]) {
      out[n >> 3] |= 1 << (n & 7);
      any = true;
    }
  }
  return any ? out : null;
}

/** Unpack bytes to one 0/1 value per voxel. */
export function unpackSlice(packed: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let n = 0; n < count; n++) out[n] = (packed[n >> 3] >> (n & 7)) & 1;
  return out;
}

async function transform(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const body = new Blob([data as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** zlib-deflate (RFC 1950, what Python's zlib writes). */
export const deflate = (data: Uint8Array) => transform(data, new CompressionStream("deflate"));
export const inflate = (data: Uint8Array) => transform(data, new DecompressionStream("deflate"));

/** Build a wire message from slices ([slices, rows, columns] shape). */
export async function encodeMask(shape: [number, number, number], slices: MaskSlice[]): Promise<Uint8Array> {
  const count = shape[1] * shape[2];
  const chunks: Uint8Array[] = [];
  for (const slice of slices) {
    const packed = slice.bits ? packSlice(slice.bits, count) : null;
    chunks.push(packed ? await deflate(packed) : new Uint8Array(0));
  }
  const header = new TextEncoder().encode(
    JSON.stringify({
      shape,
      encoding: "packbits-zlib",
      bitorder: "little",
      chunks: slices.map((s, n) => ({ segment: s.segment, k: s.k, length: chunks[n].length })),
    }),
  );
  const total = 12 + header.length + chunks.reduce((sum, c) => sum + c.length, 0);
  const out = new Uint8Array(total);
  out.set([0x41, 0x4d, 0x53, 0x4b, 1, 0, 0, 0], 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  let offset = 12 + header.length;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Parse a wire message; every slice comes back unpacked (0/1 per voxel) or null when empty. */
export async function decodeMask(buffer: ArrayBuffer): Promise<DecodedMask> {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== "AMSK" || bytes[4] !== 1) throw new Error("Not a mask message (AMSK version 1).");
  const headerLength = new DataView(buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as {
    shape: [number, number, number];
    version?: number;
    segments?: { number: number; label: string }[];
    chunks: { segment: number; k: number; length: number }[];
  };
  const count = header.shape[1] * header.shape[2];
  let offset = 12 + headerLength;
  const slices: DecodedMask["slices"] = [];
  for (const chunk of header.chunks) {
    const data = bytes.subarray(offset, offset + chunk.length);
    offset += chunk.length;
    slices.push({
      segment: chunk.segment,
      k: chunk.k,
      bits: chunk.length ? unpackSlice(await inflate(data), count) : null,
    });
  }
  return { shape: header.shape, version: header.version, segments: header.segments, slices };
}
