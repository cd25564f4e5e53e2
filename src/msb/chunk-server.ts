/**
 * The serving side of the MSB chunk protocol (./chunks.ts): answers chunk requests for one MSB
 * from its body, so a node can mount it on its transport (any `Channel` of the `msb` range) or
 * hand it to the simulator.
 *
 * Phases: 1. build (`new MsbChunkServer(header, entries, decisions)`: per section (./chunks.ts: the
 * UTXO entries, the decisions) the root of every chunk, one pass of the WASM kernel over its
 * leaves, then the tree of chunk roots checked against the header's root for that section, so a
 * server never serves a body that is not its header's); 2. serve (`serve(request bytes)`: strict
 * decode, then an OK answer with the chunk's leaves of the asked section and range proof, or a
 * refusal: UNKNOWN_MSB for another header hash, shard or epoch, OUT_OF_RANGE for an index past the
 * section's last chunk).
 *
 * Cost: memory is the body plus 32 bytes per chunk (not the 64 bytes per entry of a full tree);
 * an answer copies its chunk's entries and hashes at most ⌈log2 chunks⌉ nodes of the chunk-root
 * tree (memoised), since every proof hash of an aligned chunk is a subtree of whole chunks.
 * A malformed request is MSB_BAD_REQUEST (the transport's guarded handler counts it).
 */
import { merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { sameBytes } from "../bytes.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import { msbHeaderHash } from "./header.js";
import { MSB_ERROR_CODES, type MsbErrorCode, type MsbHeader } from "./interface.js";
import { MSB_CHUNK_ENTRIES, ChunkStatus, MsbSection, chunkCount, chunkRange, decodeChunkRequest, encodeChunkAnswer, sectionOf, type ChunkRequest } from "./chunks.js";
import { merkleNodeHash, proveRange, splitPoint } from "./range.js";

/** What a server has answered since it was built. */
export interface ChunkServerStats {
  readonly served: number;
  readonly refused: number;
  readonly bytes: number;
}

/** One section's leaves, its chunk roots and the memoised roots of chunk-aligned ranges. */
class SectionTree {
  readonly chunkRoots: Uint8Array[];
  /** MTH of [from, to) for chunk-aligned ranges, by "from:to". */
  private readonly subtrees = new Map<string, Uint8Array>();

  constructor(
    readonly leaves: Uint8Array,
    readonly entryBytes: number,
    readonly count: number,
    root: Uint8Array,
    what: string,
  ) {
    check<MsbErrorCode>(leaves instanceof Uint8Array && leaves.length === count * entryBytes,
      "MSB_BAD_INPUT", `the ${what} of ${count} leaves are ${count * entryBytes} bytes`);
    this.chunkRoots = Array.from({ length: chunkCount(count) }, (_, chunk) => {
      const { start, end } = chunkRange(count, chunk);
      return merkleRootOfPackedLeaves(leaves.subarray(start * entryBytes, end * entryBytes), entryBytes);
    });
    if (count > 0) check<MsbErrorCode>(sameBytes(this.subtreeRoot(0, count), root), "MSB_BAD_INPUT", `the ${what}' root is not the header's`);
  }

  /**
   * MTH(D[from:to]) for `from` a multiple of the chunk size: a range within one chunk is that
   * chunk's root (an aligned chunk is one subtree), a longer one splits at RFC 6962 §2.1's point,
   * itself a multiple of the chunk size (a power of two at least the chunk size).
   */
  subtreeRoot(from: number, to: number): Uint8Array {
    if (to - from <= MSB_CHUNK_ENTRIES) return this.chunkRoots[from / MSB_CHUNK_ENTRIES]!;
    const key = `${from}:${to}`;
    let root = this.subtrees.get(key);
    if (root === undefined) {
      const k = splitPoint(to - from);
      root = merkleNodeHash(this.subtreeRoot(from, from + k), this.subtreeRoot(from + k, to));
      this.subtrees.set(key, root);
    }
    return root;
  }
}

export class MsbChunkServer {
  readonly headerHash: Uint8Array;
  /** By section (MsbSection). */
  private readonly sections: readonly SectionTree[];
  private counts = { served: 0, refused: 0, bytes: 0 };

  constructor(
    readonly header: MsbHeader,
    /** The body: packed entries in outpoint order (a snapshot's `entries`). */
    entries: Uint8Array,
    /** The decisions: packed leaves in cross txid order (./decisions.ts). */
    decisions: Uint8Array,
  ) {
    this.headerHash = msbHeaderHash(header);
    const tree = (section: MsbSection, leaves: Uint8Array, what: string) => {
      const { entryBytes, count, root } = sectionOf(header, section);
      return new SectionTree(leaves, entryBytes, count, root, what);
    };
    this.sections = [tree(MsbSection.Utxos, entries, "body"), tree(MsbSection.Decisions, decisions, "decisions")];
  }

  get stats(): ChunkServerStats {
    return { ...this.counts };
  }

  /** The answer to an encoded request; MSB_BAD_REQUEST when it does not decode. */
  serve(requestBytes: Uint8Array): Uint8Array {
    let request: ChunkRequest;
    try {
      request = decodeChunkRequest(requestBytes);
    } catch (error) {
      if (hasCodeIn(error, MSB_ERROR_CODES)) throw new IosError<MsbErrorCode>("MSB_BAD_REQUEST", `chunk request: ${error.message}`, { cause: error.code });
      throw error;
    }
    const answer = this.answer(request);
    this.counts.bytes += answer.length;
    return answer;
  }

  /** The encoded answer to `request` (a refusal when it names another MSB or no chunk of it). */
  answer(request: ChunkRequest): Uint8Array {
    const { header } = this;
    const route = { section: request.section, shard: request.shard, epoch: request.epoch, headerHash: request.headerHash, chunk: request.chunk };
    const refuse = (status: ChunkStatus) => {
      this.counts.refused++;
      return encodeChunkAnswer({ ...route, status, entries: new Uint8Array(0), hashes: [] });
    };
    if (!sameBytes(request.headerHash, this.headerHash) || request.shard !== header.shard || request.epoch !== header.epoch) return refuse(ChunkStatus.UnknownMsb);
    const tree = this.sections[request.section]!;
    if (request.chunk >= tree.chunkRoots.length) return refuse(ChunkStatus.OutOfRange);
    const { start, end } = chunkRange(tree.count, request.chunk);
    this.counts.served++;
    return encodeChunkAnswer({
      ...route, status: ChunkStatus.Ok,
      entries: tree.leaves.subarray(start * tree.entryBytes, end * tree.entryBytes),
      hashes: proveRange(tree.count, start, end, (from, to) => tree.subtreeRoot(from, to)),
    });
  }
}
