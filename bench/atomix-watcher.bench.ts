/**
 * What every member's Atomix watcher does per cross-shard transfer of a final height (issue 13,
 * src/atomix/watcher.ts), A/B in one run on 1,000 transfers of a 2-shard committee of 5:
 *   acting  is this member among the f + 1 acting on a lock (`watch`, every lock, every member):
 *           A ranks the committee (`actingMembers`) and looks for itself; B counts who ranks
 *           before it (`isActingMember`).
 *   notice  the shards to tell of an applied unlock-to-commit (`noticeCommitted`, every unlock,
 *           every member): A decodes the unlock (copies X and its proofs) and hashes every owner
 *           of X for its shard; B reads X in place (`atomixUnlockCross`) and hashes the inputs'
 *           owners only (`crossShardInputShards`).
 * Output: bench/results/atomix-watcher-ab.json (µs per transfer, B/A per case).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { sameBytes } from "../src/bytes.js";
import { signCrossShardTransfer } from "../src/atomix/client.js";
import { actingMembers, isActingMember } from "../src/atomix/watcher.js";
import { deriveTestAccounts } from "../src/ledger/genesis.js";
import { crossShardInputShards } from "../src/ledger/kinds/atomix.js";
import { atomixUnlockCross, decodeAtomixUnlock, encodeAtomixUnlock } from "../src/ledger/kinds/atomix-unlock.js";
import { TxKind } from "../src/ledger/kinds/interface.js";
import { shardOfOwner } from "../src/ledger/shard.js";
import { SeededRng } from "../src/runtime/seeded-rng.js";

const TRANSFERS = 1000;
const SHARDS = 2;
const MEMBERS = 5;
const RESULTS_FOLDER = "bench/results";
const rng = SeededRng.fromSeed("atomix watcher bench");
const members = Array.from({ length: MEMBERS }, () => rng.bytes(32));
const self = members[2]!;
const accounts = deriveTestAccounts("atomix watcher bench", 64);
const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
const [payers, payees] = [inShard(0), inShard(1)];

/** The bench's transfers: one input in shard 0, paying shard 1 with change back (the load's cross-shard transfer), and an unlock-to-commit of each. */
const transfers = Array.from({ length: TRANSFERS }, (_, i) => {
  const payer = payers[i % payers.length]!;
  const x = signCrossShardTransfer({
    kind: TxKind.AtomixLock,
    inputs: [{ txid: rng.bytes(32), index: 0, owner: payer.publicKey, amount: 1_000n }],
    outputs: [{ owner: payees[i % payees.length]!.publicKey, amount: 400n }, { owner: payer.publicKey, amount: 590n }],
  }, [payer]);
  // A proof is opaque to the notice step; 790 bytes as a committee of 4 makes.
  const unlock = encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: x.unsigned, proofs: [rng.bytes(790)] });
  return { txid: x.txid, unlock };
});

/** The owner shards main's watcher hashed per notice: every owner of X, inputs then outputs. */
function everyOwnerShard(cross: Uint8Array): number[] {
  const view = new DataView(cross.buffer, cross.byteOffset, cross.byteLength);
  const inputs = view.getUint16(2, true);
  const outputs = view.getUint16(4, true);
  const shards: number[] = [];
  for (let i = 0; i < inputs; i++) shards.push(shardOfOwner(cross.subarray(6 + i * 76 + 36, 6 + i * 76 + 68), SHARDS));
  for (let j = 0; j < outputs; j++) shards.push(shardOfOwner(cross.subarray(6 + inputs * 76 + j * 40, 6 + inputs * 76 + j * 40 + 32), SHARDS));
  return shards.slice(0, inputs);
}

const actingA = () => transfers.filter(({ txid }) => actingMembers(members, txid).some((key) => sameBytes(key, self))).length;
const actingB = () => transfers.filter(({ txid }) => isActingMember(members, txid, self)).length;
const noticeA = () => transfers.reduce((n, { unlock }) => n + new Set(everyOwnerShard(decodeAtomixUnlock(unlock).cross)).size, 0);
const noticeB = () => transfers.reduce((n, { unlock }) => n + new Set(crossShardInputShards(atomixUnlockCross(unlock), SHARDS)).size, 0);

// Same answers before any timing.
if (actingA() !== actingB()) throw new Error("the acting checks disagree");
if (noticeA() !== noticeB() || noticeB() !== TRANSFERS) throw new Error("the notice reads disagree");

const cases = { acting: [actingA, actingB], notice: [noticeA, noticeB] } as const;
const results: Record<string, { microsPerTransfer: number; marginPercent: number }> = {};
for (const [name, [a, bCase]] of Object.entries(cases)) {
  await b.suite(
    `atomix watcher ${name}: ${TRANSFERS} transfers per op`,
    b.configure({ cases: { minTime: 1, maxTime: 3 } }),
    b.add(`${name} A (main)`, a),
    b.add(`${name} B`, bCase),
    b.cycle(),
    b.complete((summary) => {
      for (const result of summary.results) results[result.name] = { microsPerTransfer: (result.details.mean * 1e6) / TRANSFERS, marginPercent: result.margin };
    }),
  );
}
const ratios = Object.fromEntries(Object.keys(cases).map((name) => [name, results[`${name} B`]!.microsPerTransfer / results[`${name} A (main)`]!.microsPerTransfer]));
console.table(Object.entries(results).map(([name, r]) => ({ case: name, "µs/transfer": +r.microsPerTransfer.toFixed(3), "±%": r.marginPercent })));
console.log(`B/A: ${Object.entries(ratios).map(([name, ratio]) => `${name} ${ratio.toFixed(2)}`).join(", ")}`);
writeFileSync(`${RESULTS_FOLDER}/atomix-watcher-ab.json`, `${JSON.stringify({ bench: "atomix-watcher", date: new Date().toISOString(), node: process.version, transfers: TRANSFERS, shards: SHARDS, members: MEMBERS, cases: results, ratioBtoA: ratios }, null, 2)}\n`);
