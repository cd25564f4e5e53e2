/**
 * The chunk protocol over a transport `Channel` of the `msb` range (net/interface.ts), so the
 * same code serves and fetches over the uWS transport and the simulator's.
 *
 * Phases: serving (`serveChunks`: each MSB_CHUNK_REQUEST answered by the server with one
 * MSB_CHUNK_ANSWER to its sender); fetching (`ChannelChunkSource`: a `ChunkSource<PeerId>` that
 * sends MSB_CHUNK_REQUEST and resolves with the first MSB_CHUNK_ANSWER from that peer naming the
 * same section, header hash and chunk; the fetcher decodes and checks the rest).
 *
 * The channel belongs to the caller (the node runs state sync on the same `msb` instance): these
 * only register handlers of their two types. An answer nobody waits for (late, unasked, another
 * peer's, too short to name its chunk, or one the fetcher cancelled after its timeout) is counted
 * in `ignored` and dropped.
 */
import { readU32 } from "../codec/binary.js";
import { HASH_BYTES } from "../codec/sizes.js";
import { toHex } from "../hex.js";
import type { Channel, PeerId } from "../net/interface.js";
import type { ChunkSource } from "./bootstrap.js";
import type { MsbChunkServer } from "./chunk-server.js";
import { CHUNK_ANSWER_HEAD, CHUNK_ANSWER_HEAD_BYTES, MSB_CHUNK_ANSWER, MSB_CHUNK_REQUEST, encodeChunkRequest, type ChunkRequest } from "./chunks.js";


/** Answers every chunk request arriving on `channel` from `server` (a malformed one throws MSB_BAD_REQUEST to the transport's guard). */
export function serveChunks(channel: Channel, server: MsbChunkServer): void {
  channel.on(MSB_CHUNK_REQUEST, (from, _type, payload) => channel.send(from, MSB_CHUNK_ANSWER, server.serve(payload)));
}

export class ChannelChunkSource implements ChunkSource<PeerId> {
  private readonly waiting = new Map<string, (answer: Uint8Array) => void>();
  ignored = 0;
  private closed = false;

  constructor(private readonly channel: Channel) {
    channel.on(MSB_CHUNK_ANSWER, (from, _type, payload) => this.arrive(from, payload));
  }

  request(peer: PeerId, request: ChunkRequest): Promise<Uint8Array> {
    const bytes = encodeChunkRequest(request);
    // Closed: an empty answer at once (the fetcher drops the source for it), not a wait on a clock that may not run any more.
    if (this.closed) return Promise.resolve(new Uint8Array(0));
    return new Promise((resolve) => {
      this.waiting.set(keyOf(peer, request.section, request.headerHash, request.chunk), resolve);
      this.channel.send(peer, MSB_CHUNK_REQUEST, bytes);
    });
  }

  /** Stops waiting for `peer`'s answer to `request` (the fetcher calls it on a timeout and at its end). */
  cancel(peer: PeerId, request: ChunkRequest): void {
    this.waiting.delete(keyOf(peer, request.section, request.headerHash, request.chunk));
  }

  /** Its channel is closing: every request waiting, and any later one, gets an empty answer now. */
  close(): void {
    this.closed = true;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const resolve of waiting) resolve(new Uint8Array(0));
  }

  /** Requests still awaiting an answer. */
  get pending(): number {
    return this.waiting.size;
  }

  private arrive(from: PeerId, payload: Uint8Array): void {
    if (payload.length < CHUNK_ANSWER_HEAD_BYTES) {
      this.ignored++;
      return;
    }
    const { offset } = CHUNK_ANSWER_HEAD;
    const key = keyOf(from, payload[offset.section]!, payload.subarray(offset.headerHash, offset.headerHash + HASH_BYTES), readU32(payload, offset.chunk));
    const resolve = this.waiting.get(key);
    if (resolve === undefined) {
      this.ignored++;
      return;
    }
    this.waiting.delete(key);
    resolve(payload.slice());
  }
}

function keyOf(peer: PeerId, section: number, headerHash: Uint8Array, chunk: number): string {
  return `${peer}/${section}/${toHex(headerHash)}/${chunk}`;
}
