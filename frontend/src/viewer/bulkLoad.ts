// Whole-series loading in one request: WADO-RS Retrieve Series as bulk data
// (multipart/related; type="application/octet-stream"), one part per frame, each naming its
// frame URL in Content-Location. A 300-slice CT thus costs the server one request and one
// query instead of 300, and the browser one connection instead of a queue of six.
//
// Each part is handed to Cornerstone through its compressed-frame registry (the
// "compressedFrameData" metadata module the wadors loader consults before the network), so
// decoding, caching and events stay Cornerstone's own. Frames the stream did not deliver fall
// back to the ordinary per-frame requests.
import { imageLoader, metaData } from "@cornerstonejs/core";
import { ensureCornerstone } from "./setup";

const COMPRESSED_FRAME_DATA = "compressedFrameData";
const ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
const HEADER_LIMIT = 16 * 1024;

interface FrameBytes {
  pixelData: Uint8Array;
  transferSyntaxUid: string;
}

// Frames received but not yet decoded, by image id (dropped once Cornerstone has them).
const received = new Map<string, FrameBytes>();
let providerAdded = false;

function addProvider(): void {
  if (providerAdded) return;
  // Ahead of every other provider: only image ids this module received answer here.
  metaData.addProvider((type: string, imageId: string) => (type === COMPRESSED_FRAME_DATA ? received.get(imageId) : undefined), 10_000);
  providerAdded = true;
}

function pathOf(url: string): string {
  return new URL(url, window.location.href).pathname;
}

/** Bytes arriving in chunks, consumed from the front without copying more than needed. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** A copy of the first `n` bytes (fewer if fewer are queued). */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.length));
    let offset = 0;
    for (const chunk of this.chunks) {
      if (offset >= out.length) break;
      const piece = chunk.subarray(0, out.length - offset);
      out.set(piece, offset);
      offset += piece.length;
    }
    return out;
  }

  /** Remove and return the first `n` bytes (n <= length). */
  take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.length -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0];
      const piece = chunk.subarray(0, n - offset);
      out.set(piece, offset);
      offset += piece.length;
      if (piece.length === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(piece.length);
    }
    this.length -= n;
    return out;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");

/**
 * Read a multipart/related response part by part as it streams, calling `onPart` with each
 * part's headers (lower-case names) and content. Parts with Content-Length are cut by length;
 * others by searching for the boundary.
 */
export async function readMultipart(response: Response, onPart: (headers: Map<string, string>, body: Uint8Array) => void): Promise<void> {
  const boundary = /boundary="?([^";]+)"?/i.exec(response.headers.get("Content-Type") ?? "")?.[1];
  if (!boundary || !response.body) throw new Error("The response is not multipart.");
  const dashBoundary = encoder.encode(`--${boundary}`);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const reader = response.body.getReader();
  const queue = new ByteQueue();
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const { value, done } = await reader.read();
    if (done) ended = true;
    else queue.push(value);
    return !done;
  };
  const need = async (n: number): Promise<void> => {
    while (queue.length < n) if (!(await more())) throw new Error("The multipart body ended early.");
  };
  // Preamble, then the first boundary.
  for (;;) {
    const at = indexOf(queue.peek(HEADER_LIMIT), dashBoundary);
    if (at >= 0) {
      queue.take(at + dashBoundary.length);
      break;
    }
    if (queue.length > HEADER_LIMIT || !(await more())) throw new Error("No multipart boundary found.");
  }
  for (;;) {
    await need(2);
    if (decoder.decode(queue.peek(2)) === "--") break; // the close delimiter
    let end: number;
    while ((end = indexOf(queue.peek(HEADER_LIMIT), encoder.encode("\r\n\r\n"))) < 0) {
      if (queue.length > HEADER_LIMIT || !(await more())) throw new Error("A part's headers are unterminated.");
    }
    const headers = new Map<string, string>();
    for (const line of decoder.decode(queue.take(end + 4)).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? NaN);
    let body: Uint8Array;
    if (Number.isInteger(length) && length >= 0) {
      await need(length + delimiter.length);
      body = queue.take(length);
      if (indexOf(queue.peek(delimiter.length), delimiter) !== 0) throw new Error("A part is longer than its Content-Length.");
    } else {
      let at: number;
      while ((at = indexOf(queue.peek(queue.length), delimiter)) < 0) {
        if (!(await more())) throw new Error("The multipart body ended inside a part.");
      }
      body = queue.take(at);
    }
    queue.take(delimiter.length);
    onPart(headers, body);
  }
  await reader.cancel().catch(() => undefined);
}

/**
 * Load every image of a series into Cornerstone's cache through one bulk data request (the
 * series' frames must all be in `imageIds`); `onLoaded` gets the running count. Resolves when
 * every image id is cached or has failed.
 */
export async function loadSeriesInOneRequest(seriesUrl: string, imageIds: string[], onLoaded: (count: number) => void, signal?: AbortSignal): Promise<void> {
  await ensureCornerstone();
  addProvider();
  const byPath = new Map(imageIds.map((id) => [pathOf(id.replace(/^wadors:/, "")), id]));
  const loads: Promise<unknown>[] = [];
  const started = new Set<string>();
  let count = 0;
  // The count drives a progress display: report it once per frame, not once per image (300
  // renders of the page would cost more than the decoding).
  let scheduled = false;
  const report = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      onLoaded(count);
    });
  };
  const load = (imageId: string) => {
    started.add(imageId);
    const done = () => {
      received.delete(imageId);
      count += 1;
      report();
    };
    loads.push(imageLoader.loadAndCacheImage(imageId).then(done, done));
  };
  try {
    const response = await fetch(seriesUrl, { headers: { Accept: ACCEPT }, credentials: "same-origin", signal });
    if (!response.ok) throw new Error(`Series bulk data failed (HTTP ${response.status}).`);
    await readMultipart(response, (headers, body) => {
      const location = headers.get("content-location");
      const imageId = location ? byPath.get(pathOf(location)) : undefined;
      if (!imageId || started.has(imageId)) return;
      const syntax = /transfer-syntax=([^;\s]+)/i.exec(headers.get("content-type") ?? "")?.[1];
      received.set(imageId, { pixelData: body, transferSyntaxUid: syntax ?? "1.2.840.10008.1.2.1" });
      load(imageId);
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    // Whatever the stream did not bring comes frame by frame below.
  }
  for (const imageId of imageIds) if (!started.has(imageId)) load(imageId);
  await Promise.all(loads);
  onLoaded(count);
}
