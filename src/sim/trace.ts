/**
 * The run's fingerprint: every event that happens (delivery, drop, handler failure, timer, crash,
 * restart, partition, scripted action) is serialised into a running SHA-256. Two runs of one scenario
 * are identical exactly when their trace hashes are (up to SHA-256 collisions).
 *
 * Records are fixed-layout little-endian: kind u8 ‖ time f64 ‖ fields u32… ‖ [payload length
 * u32 ‖ payload]. Peers appear as their registration index, so the hash does not depend on how
 * ids are spelled. Records are staged in a buffer and hashed in large updates.
 */
import { createHash, type Hash } from "node:crypto";
import { writeF64, writeU32 } from "../codec/binary.js";

export const TraceKind = {
  start: 1,
  deliver: 2,
  drop: 3,
  timer: 4,
  crash: 5,
  restart: 6,
  partition: 7,
  heal: 8,
  script: 9,
  /** A handler threw on delivery: [from, to, type], payload = the code (UTF-8). */
  handlerError: 10,
} as const;
export type TraceKind = (typeof TraceKind)[keyof typeof TraceKind];

const STAGE_BYTES = 1 << 16;
/** kind + time + up to 8 fields + payload length. */
const MAX_HEADER_BYTES = 1 + 8 + 8 * 4 + 4;

export class TraceRecorder {
  private readonly hash: Hash = createHash("sha256");
  private readonly stage = new Uint8Array(STAGE_BYTES);
  private used = 0;

  constructor(private readonly logLine?: (line: string) => void) {}

  /** Whether a log sink is attached: callers format log lines only then. */
  get logging(): boolean {
    return this.logLine !== undefined;
  }

  record(kind: TraceKind, time: number, fields: readonly number[], payload?: Uint8Array): void {
    if (this.used + MAX_HEADER_BYTES > STAGE_BYTES) this.flush();
    const stage = this.stage;
    let at = this.used;
    stage[at] = kind;
    writeF64(stage, at + 1, time);
    at += 9;
    for (const field of fields) {
      writeU32(stage, at, field >>> 0);
      at += 4;
    }
    if (payload !== undefined) {
      writeU32(stage, at, payload.length);
      at += 4;
      if (at + payload.length <= STAGE_BYTES) {
        this.stage.set(payload, at);
        at += payload.length;
      } else {
        this.used = at;
        this.flush();
        this.hash.update(payload);
        at = 0;
      }
    }
    this.used = at;
  }

  log(line: string): void {
    this.logLine?.(line);
  }

  /** Hex SHA-256 of every record so far; recording may continue afterwards. */
  digest(): string {
    this.flush();
    return this.hash.copy().digest("hex");
  }

  private flush(): void {
    if (this.used === 0) return;
    this.hash.update(this.stage.subarray(0, this.used));
    this.used = 0;
  }
}
