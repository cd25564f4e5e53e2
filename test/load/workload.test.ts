// Workload generation and save/replay: every planned transfer applies in order against the genesis
// UTXO set with real signatures, the set is byte-identical for a seed whatever the thread count, and
// the load file round-trips and rejects corruption with precise codes.
import assert from "node:assert/strict";
import { verify, createPublicKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { genesisEntries, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { decodeTransaction } from "../../src/ledger/transaction.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { LOAD_FILE_MAGIC, decodeLoadFile, encodeLoadFile, readLoadFile, saveLoadFile } from "../../src/load/load-file.js";
import { TRANSFER_BYTES, generateLoad, type LoadSet } from "../../src/load/workload.js";
import { CommitteeProofVerifier } from "../../src/atomix/proof.js";
import { crossShardTransferKind } from "../../src/ledger/kinds/atomix.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";

const SHARDS = 3;
const made = makeTestGenesis({ seed: "load workload test", shardCount: SHARDS, accounts: 30, amount: 10_000n, outputsPerAccount: 2, validators: 1 });
const COUNT = 480;
const FEE = 3n;

function ed25519PublicKey(raw: Uint8Array) {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

describe("generateLoad", () => {
  let set: LoadSet;
  before(async () => {
    set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: COUNT, seed: "plan", fee: FEE, payment: 5n, threads: 2 });
  });

  it("produces COUNT 1-in 2-out transfers tagged with their sender's shard", () => {
    assert.equal(set.count, COUNT);
    assert.equal(set.bytes.length, COUNT * TRANSFER_BYTES);
    assert.deepEqual(set.header.genesisHash, genesisTxid(made.genesis));
    assert.equal(set.header.shardCount, SHARDS);
    for (let i = 0; i < COUNT; i++) {
      const tx = decodeTransaction(set.tx(i));
      assert.equal(tx.inputs.length, 1);
      assert.equal(tx.outputs.length, 2);
      assert.equal(shardOfOwner(tx.inputs[0]!.owner, SHARDS), set.shard(i));
      assert.equal(shardOfOwner(tx.outputs[0]!.owner, SHARDS), set.shard(i), "payments stay in the sender's shard");
      assert.deepEqual(tx.outputs[1]!.owner, tx.inputs[0]!.owner, "output 1 is the change");
      assert.equal(tx.outputs[0]!.amount, 5n);
    }
  });

  it("signs every input correctly (node:crypto verify) and reports the right txids", () => {
    for (let i = 0; i < COUNT; i++) {
      const tx = decodeTransaction(set.tx(i));
      assert.ok(verify(null, set.txid(i), ed25519PublicKey(tx.inputs[0]!.owner), tx.signatures[0]!), `signature of tx ${i}`);
    }
    const recomputed = decodeLoadFile(encodeLoadFile(set));
    assert.deepEqual(recomputed.txids(), set.txids());
  });

  it("applies in plan order on every shard: all OK, supply falls by exactly the fees", () => {
    let total = 0;
    for (let shard = 0; shard < SHARDS; shard++) {
      const table = new UtxoTable();
      table.insertEntries(genesisEntries(made.genesis, shard));
      const before = table.supply;
      const txs = set.indexesOfShard(shard).map((i) => set.tx(i));
      total += txs.length;
      const checked = validateStateless(packTransactions(txs), shard, SHARDS);
      assert.ok(checked.rejections.every((r) => r === null), `stateless rejections on shard ${shard}`);
      const delta = table.applyBlock(checked.records, checked.recordCount);
      assert.equal(delta.applied, txs.length);
      assert.ok(delta.statuses.every((s) => s === ApplyStatus.Ok));
      assert.equal(table.supply, before - BigInt(txs.length) * FEE);
    }
    assert.equal(total, COUNT);
  });

  it("is byte-identical for a seed across thread counts, and differs for another seed", async () => {
    const one = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: COUNT, seed: "plan", fee: FEE, payment: 5n, threads: 1 });
    assert.deepEqual(one.bytes, set.bytes);
    assert.deepEqual(one.shards, set.shards);
    const other = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: COUNT, seed: "other", fee: FEE, payment: 5n, threads: 2 });
    assert.notDeepEqual(other.bytes, set.bytes);
  });

  it("spreads sends evenly: every funded account sends COUNT / accounts times", () => {
    const sends = new Map<string, number>();
    for (let i = 0; i < COUNT; i++) {
      const owner = Buffer.from(decodeTransaction(set.tx(i)).inputs[0]!.owner).toString("hex");
      sends.set(owner, (sends.get(owner) ?? 0) + 1);
    }
    assert.equal(sends.size, 30);
    assert.ok([...sends.values()].every((n) => n === COUNT / 30));
  });

  it("rejects plans the genesis cannot fund, and bad options", async () => {
    const base = { genesis: made.genesis, accounts: made.accounts, seed: "plan", threads: 1 };
    await assert.rejects(generateLoad({ ...base, count: 30 * 2 * 10, payment: 1000n }), { code: "LOAD_INSUFFICIENT_FUNDS" });
    await assert.rejects(generateLoad({ ...base, count: 0 }), { code: "LOAD_BAD_OPTION" });
    await assert.rejects(generateLoad({ ...base, count: 10, seed: "" }), { code: "LOAD_BAD_OPTION" });
    await assert.rejects(generateLoad({ ...base, count: 10, payment: 0n }), { code: "LOAD_BAD_OPTION" });
    await assert.rejects(generateLoad({ ...base, count: 10, threads: 0 }), { code: "LOAD_BAD_OPTION" });
    const strangers = makeTestGenesis({ seed: "someone else", shardCount: 1, accounts: 2, amount: 10n, validators: 1 }).accounts;
    await assert.rejects(generateLoad({ ...base, count: 10, accounts: strangers }), { code: "LOAD_NO_ACCOUNTS" });
  });
});

describe("generateLoad with cross-shard transfers", () => {
  it("pays another shard with probability R: signed cross-shard transfers whose change the lane's next transfer spends; R = 0 is the intra-shard plan", async () => {
    const options = { genesis: made.genesis, accounts: made.accounts, count: 300, seed: "cross plan", fee: FEE, payment: 5n, threads: 2 };
    const plain = await generateLoad(options);
    assert.deepEqual((await generateLoad({ ...options, crossShard: 0 })).bytes, plain.bytes, "R = 0 draws nothing more");
    const mixed = await generateLoad({ ...options, crossShard: 0.3 });
    assert.deepEqual((await generateLoad({ ...options, crossShard: 0.3, threads: 1 })).bytes, mixed.bytes, "byte-identical across thread counts");
    const decisions = new CommitteeProofVerifier(() => undefined);
    let cross = 0;
    for (let i = 0; i < mixed.count; i++) {
      const tx = mixed.tx(i);
      if (tx[1] !== TxKind.AtomixLock) continue;
      cross++;
      const x = crossShardTransferKind.decode(tx);
      assert.equal(shardOfOwner(x.inputs[0]!.owner, SHARDS), mixed.shard(i));
      assert.notEqual(shardOfOwner(x.outputs[0]!.owner, SHARDS), mixed.shard(i), "the payment goes to another shard");
      assert.deepEqual(x.outputs[1]!.owner, x.inputs[0]!.owner, "output 1 is the change");
      assert.equal(x.inputs[0]!.amount, x.outputs[0]!.amount + x.outputs[1]!.amount + FEE, "the input declares what it holds");
      assert.equal(validateStateless(packTransactions([tx]), mixed.shard(i), SHARDS, "submitted", decisions).rejections[0], null, "valid in its input shard");
      assert.ok(verify(null, mixed.txid(i), ed25519PublicKey(x.inputs[0]!.owner), x.signatures[0]!), `signature of transfer ${i}`);
      // The lane's next transfer, if any, spends the change (txid(X), 1).
      const next = Array.from({ length: mixed.count - i - 1 }, (_, k) => i + 1 + k).find((j) => Buffer.from(mixed.tx(j).subarray(6, 38)).equals(Buffer.from(mixed.txid(i))));
      if (next !== undefined) assert.equal(Buffer.from(mixed.tx(next)).readUInt32LE(38), 1);
    }
    assert.ok(cross > 300 * 0.2 && cross < 300 * 0.4, `about 30% cross-shard: ${cross}`);
    const all = await generateLoad({ ...options, count: 60, crossShard: 1 });
    assert.ok(Array.from({ length: all.count }, (_, i) => all.tx(i)[1]).every((kind) => kind === TxKind.AtomixLock), "R = 1: every transfer crosses shards");
    await assert.rejects(generateLoad({ ...options, crossShard: 1.5 }), { code: "LOAD_BAD_OPTION" });
    const oneShard = makeTestGenesis({ seed: "one shard", shardCount: 1, accounts: 4, amount: 10_000n, validators: 1 });
    await assert.rejects(generateLoad({ ...options, genesis: oneShard.genesis, accounts: oneShard.accounts, crossShard: 0.5 }), { code: "LOAD_BAD_OPTION" });
  });
});

describe("load file", () => {
  let set: LoadSet;
  let dir: string;
  before(async () => {
    set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: 40, seed: "file", threads: 1 });
    dir = await mkdtemp(join(tmpdir(), "ios-load-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips through a file: same header, shards and bytes", async () => {
    const path = join(dir, "set.iosload");
    await saveLoadFile(path, set);
    const back = await readLoadFile(path, genesisTxid(made.genesis));
    assert.deepEqual(back.header, set.header);
    assert.deepEqual(back.shards, set.shards);
    assert.deepEqual(back.bytes, set.bytes);
    assert.deepEqual(back.txids(), set.txids());
  });

  it("rejects corruption with precise codes", () => {
    const good = encodeLoadFile(set);
    const seedLength = Buffer.byteLength("file");
    const countAt = 44 + seedLength + 2;
    const firstTx = countAt + 4;
    const mutate = (edit: (bytes: Uint8Array, view: DataView) => void): Uint8Array => {
      const bytes = good.slice();
      edit(bytes, new DataView(bytes.buffer));
      return bytes;
    };
    const cases: [string, Uint8Array][] = [
      ["LOAD_FILE_BAD_MAGIC", mutate((b) => (b[0] = 0x58))],
      ["LOAD_FILE_BAD_VERSION", mutate((_, v) => v.setUint16(8, 2, true))],
      ["LOAD_FILE_TRUNCATED", good.subarray(0, 20)],
      ["LOAD_FILE_TRUNCATED", good.subarray(0, good.length - 1)],
      ["LOAD_FILE_TRAILING_BYTES", Uint8Array.from([...good, 0])],
      ["LOAD_FILE_BAD_HEADER", mutate((_, v) => v.setUint16(42, 0, true))],
      ["LOAD_FILE_BAD_HEADER", mutate((_, v) => v.setUint16(countAt - 2, 0, true))],
      ["LOAD_FILE_BAD_HEADER", mutate((_, v) => v.setUint32(countAt, 0, true))],
      ["LOAD_FILE_TRUNCATED", mutate((_, v) => v.setUint32(countAt, 41, true))],
      ["LOAD_FILE_BAD_TX", mutate((_, v) => v.setUint16(firstTx, SHARDS, true))],
      ["LOAD_FILE_BAD_TX", mutate((_, v) => v.setUint16(firstTx, (set.shard(0) + 1) % SHARDS, true))],
      ["LOAD_FILE_BAD_TX", mutate((b) => (b[firstTx + 6] = 9))],
      ["LOAD_FILE_BAD_TX", mutate((_, v) => v.setUint32(firstTx + 2, 70_000, true))],
    ];
    for (const [code, bytes] of cases) assert.throws(() => decodeLoadFile(bytes), { code }, code);
    assert.throws(() => decodeLoadFile(good, new Uint8Array(32)), { code: "LOAD_FILE_GENESIS_MISMATCH" });
    assert.deepEqual(good.subarray(0, 8), LOAD_FILE_MAGIC);
  });
});
