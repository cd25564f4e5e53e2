/** The durable finality log of shard consensus: records and votes survive reopening, a torn tail is cut. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FinalityRecord } from "../../src/consensus/bft/codec.js";
import { FileFinalityLog } from "../../src/node/consensus/finality-log.js";

const PARTICIPANTS = 4;
const options = { firstHeight: 5, participants: PARTICIPANTS, maxProposalBytes: 1 << 20 };

function record(height: number): FinalityRecord {
  const cert = () => ({ mask: Uint8Array.of(0b1011), signature: new Uint8Array(randomBytes(64)) });
  return { height, view: height % 3, proposal: new Uint8Array(randomBytes(100 + height)), prepareCert: cert(), commitCert: cert() };
}

function withDirectory(run: (directory: string) => void): void {
  const directory = mkdtempSync(join(tmpdir(), "ios-finality-log-"));
  try {
    run(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe("FileFinalityLog", () => {
  it("keeps records across reopening and starts an empty log at firstHeight", () => {
    withDirectory((directory) => {
      const log = new FileFinalityLog(directory, options);
      assert.equal(log.lastHeight, 4);
      assert.equal(log.get(5), undefined);
      const written = [5, 6, 7].map(record);
      for (const r of written) log.append(r);
      assert.throws(() => log.append(record(9)), { code: "FINALITY_LOG_BAD_INPUT" });
      log.close();
      const reopened = new FileFinalityLog(directory, { ...options, firstHeight: 99 });
      assert.equal(reopened.firstHeight, 5, "the stored records decide the first height");
      assert.equal(reopened.lastHeight, 7);
      for (const r of written) assert.deepEqual(reopened.get(r.height), r);
      assert.equal(reopened.get(4), undefined);
      assert.equal(reopened.get(8), undefined);
      reopened.close();
      assert.throws(() => reopened.get(5), { code: "FINALITY_LOG_CLOSED" });
    });
  });

  it("cuts a torn last record and appends after it", () => {
    withDirectory((directory) => {
      const log = new FileFinalityLog(directory, options);
      log.append(record(5));
      log.close();
      const torn = Buffer.alloc(40);
      torn.writeUInt32LE(500, 0);
      appendFileSync(join(directory, "records"), torn);
      const reopened = new FileFinalityLog(directory, options);
      assert.equal(reopened.lastHeight, 5);
      const next = record(6);
      reopened.append(next);
      reopened.close();
      const again = new FileFinalityLog(directory, options);
      assert.deepEqual(again.get(6), next);
      again.close();
    });
  });

  it("saves votes durably, with or without a lock, and refuses a damaged vote file", () => {
    withDirectory((directory) => {
      const log = new FileFinalityLog(directory, options);
      assert.equal(log.votes, undefined);
      log.saveVotes({ height: 5, view: 2, lock: undefined });
      const locked = { height: 6, view: 3, lock: { view: 1, hash: new Uint8Array(randomBytes(32)), cert: { mask: Uint8Array.of(7), signature: new Uint8Array(randomBytes(64)) }, proposal: new Uint8Array(randomBytes(50)) } };
      log.saveVotes(locked);
      log.close();
      const reopened = new FileFinalityLog(directory, options);
      assert.deepEqual(reopened.votes, locked);
      reopened.close();
      writeFileSync(join(directory, "votes.json"), '{"height": 6, "view": "x"}');
      assert.throws(() => new FileFinalityLog(directory, options), { code: "FINALITY_LOG_CORRUPT" });
    });
  });
});
