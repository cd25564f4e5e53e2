/**
 * A durable FinalityLog (src/consensus/bft/log.ts) in a validator's data directory, so that a
 * restarted validator resumes where it stopped, never signs twice in a view it may have signed in
 * (PBFT's stable storage, Castro & Liskov 1999 §4.1), and can serve FINALIZED records to peers
 * catching up. Two files:
 *
 *   records   append-only: per finalized height, u32le length ‖ encodeFinalityRecord(record);
 *             fdatasync'ed before `append` returns; only offsets stay in memory. A torn last
 *             record (a crash mid-write) is cut off on open;
 *   votes     the last VoteState as JSON, replaced atomically (temp file, fsync, rename).
 *
 * An empty log starts at `firstHeight` (the shard state's tip + 1 when consensus first starts).
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MAX_PROPOSAL_BYTES, decodeFinalityRecord, encodeFinalityRecord, type FinalityRecord } from "../../consensus/bft/codec.js";
import type { FinalityLog, FinalityLogOpener, VoteState } from "../../consensus/bft/log.js";
import { IosError, check } from "../../errors.js";
import { toHex } from "../../hex.js";
import { BinaryWriter, readU32 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";

export type FinalityLogErrorCode = "FINALITY_LOG_CORRUPT" | "FINALITY_LOG_BAD_INPUT" | "FINALITY_LOG_CLOSED";

/** Each record's frame: its length, then encodeFinalityRecord's bytes. */
const RECORD_FRAME = layout({ length: 4 });
const LENGTH_BYTES = RECORD_FRAME.bytes;
const unhex = (text: unknown, what: string): Uint8Array => {
  check(typeof text === "string" && /^([0-9a-f]{2})*$/.test(text), "FINALITY_LOG_CORRUPT", `votes: ${what} is not hex`);
  return new Uint8Array(Buffer.from(text, "hex"));
};

/** Finality logs in files under `directory` (a validator's data directory). */
export function fileFinalityLogs(directory: string): FinalityLogOpener {
  return (firstHeight, participants) => new FileFinalityLog(directory, { firstHeight, participants, maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES });
}

export class FileFinalityLog implements FinalityLog {
  readonly #recordsFile: string;
  readonly #votesFile: string;
  readonly #count: number;
  readonly #maxProposalBytes: number;
  readonly #offsets: number[] = [];
  #end = 0;
  #fd: number | undefined;
  #firstHeight: number;
  #votes: VoteState | undefined;

  /**
   * Opens (creating) the log in `directory`. `participants` is the shard's validator count (the
   * certificates' mask width), `maxProposalBytes` the BFT's proposal limit.
   */
  constructor(directory: string, options: { readonly firstHeight: number; readonly participants: number; readonly maxProposalBytes: number }) {
    check(Number.isSafeInteger(options.firstHeight) && options.firstHeight >= 1, "FINALITY_LOG_BAD_INPUT", `firstHeight must be a positive integer, got ${options.firstHeight}`);
    mkdirSync(directory, { recursive: true });
    this.#recordsFile = join(directory, "records");
    this.#votesFile = join(directory, "votes.json");
    this.#count = options.participants;
    this.#maxProposalBytes = options.maxProposalBytes;
    this.#firstHeight = options.firstHeight;
    this.#fd = openSync(this.#recordsFile, "a+");
    try {
      this.#scan();
      this.#votes = this.#readVotes();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Reads every record's length (and the first one's height), cutting a torn tail. */
  #scan(): void {
    const fd = this.#fd!;
    const size = fstatSync(fd).size;
    const length = new Uint8Array(LENGTH_BYTES);
    let at = 0;
    while (at + LENGTH_BYTES <= size) {
      readSync(fd, length, 0, LENGTH_BYTES, at);
      const bytes = readU32(length, RECORD_FRAME.offset.length);
      if (at + LENGTH_BYTES + bytes > size) break;
      this.#offsets.push(at);
      at += LENGTH_BYTES + bytes;
    }
    if (at < size) ftruncateSync(fd, at);
    this.#end = at;
    if (this.#offsets.length > 0) {
      const first = this.#read(0);
      this.#firstHeight = first.height;
      check(this.#read(this.#offsets.length - 1).height === this.lastHeight, "FINALITY_LOG_CORRUPT", `${this.#recordsFile}: heights are not consecutive`);
    }
  }

  #read(index: number): FinalityRecord {
    const fd = this.#fd;
    check(fd !== undefined, "FINALITY_LOG_CLOSED", "the finality log is closed");
    const start = this.#offsets[index]!;
    const next = index + 1 < this.#offsets.length ? this.#offsets[index + 1]! : this.#end;
    const bytes = Buffer.alloc(next - start - LENGTH_BYTES);
    readSync(fd, bytes, 0, bytes.length, start + LENGTH_BYTES);
    try {
      return decodeFinalityRecord(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), this.#count, this.#maxProposalBytes);
    } catch (error) {
      if (error instanceof IosError) throw new IosError<FinalityLogErrorCode>("FINALITY_LOG_CORRUPT", `${this.#recordsFile}: record ${index}: ${error.message}`);
      throw error;
    }
  }

  #readVotes(): VoteState | undefined {
    if (!existsSync(this.#votesFile)) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(this.#votesFile, "utf8"));
    } catch (error) {
      throw new IosError<FinalityLogErrorCode>("FINALITY_LOG_CORRUPT", `${this.#votesFile}: ${(error as Error).message}`);
    }
    const v = value as { height?: unknown; view?: unknown; lock?: Record<string, unknown> | null };
    check(Number.isSafeInteger(v.height) && Number.isSafeInteger(v.view), "FINALITY_LOG_CORRUPT", `${this.#votesFile}: height and view must be integers`);
    const lock = v.lock;
    check(lock === null || lock === undefined || Number.isSafeInteger(lock.view), "FINALITY_LOG_CORRUPT", `${this.#votesFile}: lock.view must be an integer`);
    return {
      height: v.height as number,
      view: v.view as number,
      lock:
        lock === null || lock === undefined
          ? undefined
          : {
              view: lock.view as number,
              hash: unhex(lock.hash, "lock.hash"),
              cert: { mask: unhex(lock.mask, "lock.mask"), signature: unhex(lock.signature, "lock.signature") },
              proposal: unhex(lock.proposal, "lock.proposal"),
            },
    };
  }

  get votes(): VoteState | undefined {
    return this.#votes;
  }

  saveVotes(state: VoteState): void {
    const lock = state.lock === undefined ? null : { view: state.lock.view, hash: toHex(state.lock.hash), mask: toHex(state.lock.cert.mask), signature: toHex(state.lock.cert.signature), proposal: toHex(state.lock.proposal) };
    const temporary = `${this.#votesFile}.tmp`;
    writeFileSync(temporary, JSON.stringify({ height: state.height, view: state.view, lock }));
    const fd = openSync(temporary, "r+");
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.#votesFile);
    this.#votes = state;
  }

  get firstHeight(): number {
    return this.#firstHeight;
  }

  get lastHeight(): number {
    return this.#firstHeight + this.#offsets.length - 1;
  }

  get(height: number): FinalityRecord | undefined {
    const index = height - this.#firstHeight;
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#offsets.length) return undefined;
    return this.#read(index);
  }

  append(record: FinalityRecord): void {
    const fd = this.#fd;
    check(fd !== undefined, "FINALITY_LOG_CLOSED", "the finality log is closed");
    check(record.height === this.lastHeight + 1, "FINALITY_LOG_BAD_INPUT", `expected the record of height ${this.lastHeight + 1}, got ${record.height}`);
    const encoded = encodeFinalityRecord(record, this.#count);
    const framed = BinaryWriter.ofSize(LENGTH_BYTES + encoded.length).lengthPrefixed("u32", encoded).finish();
    writeSync(fd, framed, 0, framed.length, this.#end);
    fdatasyncSync(fd);
    this.#offsets.push(this.#end);
    this.#end += framed.length;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
