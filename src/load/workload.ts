/**
 * Workload generation for the load harness (issue 7): signed transfers planned from the funded
 * accounts of a test genesis, signed ahead of time in worker threads so that signing is never the
 * bottleneck of a measurement.
 *
 * Plan. Every funded account owns one or more genesis outputs; each output starts a "lane". A
 * transfer spends the current output of one lane of its sender (1 input) and creates 2 outputs:
 * output 0 pays `payment` to a seeded-random recipient of the sender's shard, output 1 returns the
 * change (input − payment − fee) to the sender and becomes the lane's next output. So transaction
 * k of a lane spends what transaction k−1 of that lane created, and the whole set is valid when
 * applied in plan order. Which account sends next is seeded (SeededRng, forks "senders" and
 * "recipients"): the plan proceeds in rounds, each a seeded shuffle of the funded accounts, and an
 * account's successive sends rotate over its lanes. With `crossShard` = R, each transfer pays an
 * account of another shard with probability R (seeded, fork "cross"): a cross-shard transfer
 * (Atomix, white paper §6), whose change the lane's next transfer spends once it is committed.
 *
 * Determinism. The schedule is drawn in this thread; lanes never cross accounts, so each account's
 * chain is computed by exactly one worker from its own inputs, and Ed25519 signatures (RFC 8032)
 * are deterministic: the same genesis, accounts, seed and options give byte-identical
 * transactions whatever the thread count.
 *
 * API: `generateLoad(options): Promise<LoadSet>`, class `LoadSet` (the generated or replayed set).
 */
import { availableParallelism } from "node:os";
import { workerExecArgv } from "../runtime/worker-exec-argv.js";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { genesisTxid, type Genesis } from "../ledger/genesis.js";
import type { KeyPair } from "../ledger/keys.js";
import { shardOfOwner } from "../ledger/shard.js";
import { MAX_AMOUNT, encodedLength, transactionIdOfEncoding } from "../ledger/transaction.js";
import { SeededRng } from "../runtime/seeded-rng.js";
import { SLOT_BYTES, type SignTask, type SignResult } from "./sign-worker.js";
import type * as SignWorker from "./sign-worker.js";
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { IosError, check } from "../errors.js";
import type { LoadErrorCode } from "./errors.js";

/** Every planned transfer is 1 input, 2 outputs: this many bytes (transaction.ts layout). */
export const TRANSFER_BYTES = encodedLength(1, 2);
/** Upper bound on one generated set: 2^26 transfers (14.6 GB of transactions) is beyond any run here. */
export const MAX_LOAD_TRANSACTIONS = 1 << 26;
/** Upper bound on signing threads, to catch typos. */
export const MAX_SIGNING_THREADS = 256;
/** Signing tasks per thread: a few per thread evens out their finishing times. */
const TASKS_PER_THREAD = 4;

const SIGN_WORKER_FILE = fileURLToPath(new URL("./sign-worker.js", import.meta.url));
const SIGN_TASK: keyof typeof SignWorker = "signChains";

/** What identifies a set of transactions: the chain it was made for and how. */
export interface LoadHeader {
  /** `genesisTxid(genesis)`: SHA-256 of the canonical genesis. */
  readonly genesisHash: Uint8Array;
  readonly seed: string;
  readonly shardCount: number;
}

/** A set of encoded transactions in submission order, each tagged with its shard. */
export class LoadSet {
  #txids: Uint8Array | undefined;

  /**
   * @param bytes the encodings back to back; transaction i is bytes[offsets[i] .. offsets[i+1])
   * @param txids count × 32 bytes if already known (they are recomputed on demand otherwise)
   */
  constructor(
    readonly header: LoadHeader,
    readonly bytes: Uint8Array,
    readonly offsets: Uint32Array,
    readonly shards: Uint16Array,
    txids?: Uint8Array,
  ) {
    check<LoadErrorCode>(offsets.length === shards.length + 1, "LOAD_BAD_OPTION", "offsets must hold one entry more than shards");
    check<LoadErrorCode>(txids === undefined || txids.length === shards.length * TXID_BYTES, "LOAD_BAD_OPTION", "txids must hold 32 bytes per transaction");
    this.#txids = txids;
  }

  get count(): number {
    return this.shards.length;
  }

  /** Encoding of transaction i (a view, not a copy). */
  tx(i: number): Uint8Array {
    return this.bytes.subarray(this.offsets[i]!, this.offsets[i + 1]!);
  }

  shard(i: number): number {
    return this.shards[i]!;
  }

  /** txid of transaction i (a view into the txid table). */
  txid(i: number): Uint8Array {
    const all = this.txids();
    return all.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES);
  }

  /** count × 32 bytes: every txid, in order (computed once). */
  txids(): Uint8Array {
    if (this.#txids === undefined) {
      const txids = new Uint8Array(this.count * TXID_BYTES);
      for (let i = 0; i < this.count; i++) txids.set(transactionIdOfEncoding(this.tx(i)), i * TXID_BYTES);
      this.#txids = txids;
    }
    return this.#txids;
  }

  /** Indexes of the transactions of `shard`, in submission order. */
  indexesOfShard(shard: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.shards[i] === shard) out.push(i);
    return out;
  }
}

export interface WorkloadOptions {
  readonly genesis: Genesis;
  /** Key pairs of (some of) the genesis owners, e.g. `makeTestGenesis(...).accounts`. Only those owning outputs send. */
  readonly accounts: readonly KeyPair[];
  /** Transfers to generate. */
  readonly count: number;
  /** Seeds the schedule (who sends when, to whom). */
  readonly seed: string;
  /** Paid to the recipient by each transfer; default 1. */
  readonly payment?: bigint;
  /** Left unclaimed by each transfer (Σ inputs − Σ outputs); default 1. */
  readonly fee?: bigint;
  /** Signing threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Fraction (0..1) of transfers paying an account of another shard (Atomix); default 0. */
  readonly crossShard?: number;
}

interface FundedAccount {
  readonly pair: KeyPair;
  readonly shard: number;
  /** Genesis output indexes owned by this account, one per lane. */
  readonly outputs: number[];
  readonly amounts: bigint[];
}

/** Uniform integer in [0, n) without modulo bias (rejection sampling on 32-bit words). */
function below(rng: SeededRng, n: number): number {
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
  for (;;) {
    const word = rng.nextU32();
    if (word < limit) return word % n;
  }
}

function checkOptions(options: WorkloadOptions): { payment: bigint; fee: bigint; threads: number; crossShard: number } {
  const { count, seed } = options;
  const payment = options.payment ?? 1n;
  const fee = options.fee ?? 1n;
  const threads = options.threads ?? availableParallelism();
  check<LoadErrorCode>(Number.isInteger(count) && count >= 1 && count <= MAX_LOAD_TRANSACTIONS, "LOAD_BAD_OPTION", `count must be an integer in 1..${MAX_LOAD_TRANSACTIONS}, got ${count}`);
  check<LoadErrorCode>(typeof seed === "string" && seed.length > 0, "LOAD_BAD_OPTION", "seed must be a non-empty string");
  check<LoadErrorCode>(typeof payment === "bigint" && payment > 0n && payment <= MAX_AMOUNT, "LOAD_BAD_OPTION", "payment must be a bigint in 1..2^64-1");
  check<LoadErrorCode>(typeof fee === "bigint" && fee >= 0n && fee <= MAX_AMOUNT, "LOAD_BAD_OPTION", "fee must be a bigint in 0..2^64-1");
  check<LoadErrorCode>(Number.isInteger(threads) && threads >= 1 && threads <= MAX_SIGNING_THREADS, "LOAD_BAD_OPTION", `threads must be an integer in 1..${MAX_SIGNING_THREADS}, got ${threads}`);
  const crossShard = options.crossShard ?? 0;
  check<LoadErrorCode>(Number.isFinite(crossShard) && crossShard >= 0 && crossShard <= 1, "LOAD_BAD_OPTION", `cross-shard fraction must be in 0..1, got ${crossShard}`);
  check<LoadErrorCode>(crossShard === 0 || options.genesis.shardCount >= 2, "LOAD_BAD_OPTION", "cross-shard transfers need at least 2 shards");
  return { payment, fee, threads, crossShard };
}

/** The accounts of `accounts` owning genesis outputs, in the order given, with their lanes. */
function fundedAccounts(genesis: Genesis, accounts: readonly KeyPair[]): FundedAccount[] {
  const byOwner = new Map<string, FundedAccount>();
  for (const pair of accounts) {
    const key = Buffer.from(pair.publicKey).toString("hex");
    if (!byOwner.has(key)) byOwner.set(key, { pair, shard: shardOfOwner(pair.publicKey, genesis.shardCount), outputs: [], amounts: [] });
  }
  genesis.outputs.forEach((output, index) => {
    const account = byOwner.get(Buffer.from(output.owner).toString("hex"));
    if (account !== undefined) {
      account.outputs.push(index);
      account.amounts.push(output.amount);
    }
  });
  const funded = [...byOwner.values()].filter((account) => account.outputs.length > 0);
  check<LoadErrorCode>(funded.length > 0, "LOAD_NO_ACCOUNTS", "none of the given accounts owns a genesis output");
  return funded;
}

interface Schedule {
  /** Per position: funded-account index of the sender. */
  readonly senders: Uint32Array;
  /** Per position: lane of the sender spent. */
  readonly lanes: Uint32Array;
  /** Per position: funded-account index of the recipient. */
  readonly recipients: Uint32Array;
  /** Per position: 1 when the recipient is in another shard. */
  readonly cross: Uint8Array;
}

/** Seeded rounds of shuffled senders; recipients drawn from the sender's shard, or with probability `crossShard` from another one. */
function drawSchedule(funded: readonly FundedAccount[], count: number, seed: string, crossShard: number): Schedule {
  const root = SeededRng.fromSeed(seed);
  const senderRng = root.fork("senders");
  const recipientRng = root.fork("recipients");
  const crossRng = root.fork("cross");
  const peersOfShard = new Map<number, number[]>();
  funded.forEach((account, i) => {
    const peers = peersOfShard.get(account.shard);
    if (peers === undefined) peersOfShard.set(account.shard, [i]);
    else peers.push(i);
  });
  const senders = new Uint32Array(count);
  const lanes = new Uint32Array(count);
  const recipients = new Uint32Array(count);
  const cross = new Uint8Array(count);
  const shards = [...peersOfShard.keys()].sort((a, b) => a - b);
  // A threshold on a 32-bit word: exact for R = 0 and R = 1.
  const crossBelow = Math.round(crossShard * 0x1_0000_0000);
  const sends = new Uint32Array(funded.length);
  const order = Uint32Array.from(funded.keys());
  let position = 0;
  while (position < count) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = below(senderRng, i + 1);
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    for (let k = 0; k < order.length && position < count; k++, position++) {
      const sender = order[k]!;
      const account = funded[sender]!;
      const isCross = crossShard > 0 && shards.length > 1 && crossRng.nextU32() < crossBelow;
      const others = shards.filter((s) => s !== account.shard);
      const peers = peersOfShard.get(isCross ? others[below(crossRng, others.length)]! : account.shard)!;
      senders[position] = sender;
      lanes[position] = sends[sender]! % account.outputs.length;
      recipients[position] = peers[below(recipientRng, peers.length)]!;
      cross[position] = isCross ? 1 : 0;
      sends[sender]!++;
    }
  }
  return { senders, lanes, recipients, cross };
}

/** Every lane must keep a positive change after all its planned spends. */
function checkFunds(funded: readonly FundedAccount[], schedule: Schedule, payment: bigint, fee: bigint): void {
  const spendsOfLane = funded.map((account) => new Array<number>(account.outputs.length).fill(0));
  for (let p = 0; p < schedule.senders.length; p++) spendsOfLane[schedule.senders[p]!]![schedule.lanes[p]!]!++;
  funded.forEach((account, a) => {
    account.amounts.forEach((amount, lane) => {
      const spends = BigInt(spendsOfLane[a]![lane]!);
      const needed = spends * (payment + fee) + 1n;
      if (amount < needed) {
        throw new IosError<LoadErrorCode>(
          "LOAD_INSUFFICIENT_FUNDS",
          `genesis output ${account.outputs[lane]} holds ${amount}, but its ${spends} planned transfers need ${needed} (payment + fee each, and change > 0); fund the accounts more or generate fewer transactions`,
        );
      }
    });
  });
}

/** Splits the funded accounts into contiguous ranges, one signing task each, with their transfers. */
function buildTasks(funded: readonly FundedAccount[], schedule: Schedule, genesisHash: Uint8Array, payment: bigint, fee: bigint, taskCount: number): { task: SignTask; positions: Uint32Array }[] {
  const bounds: number[] = [];
  for (let t = 0; t <= taskCount; t++) bounds.push(Math.round((funded.length * t) / taskCount));
  const taskOf = new Uint32Array(funded.length);
  for (let t = 0; t < taskCount; t++) taskOf.fill(t, bounds[t]!, bounds[t + 1]!);
  const perTask = new Uint32Array(taskCount);
  for (const sender of schedule.senders) perTask[taskOf[sender]!]!++;
  const tasks = [];
  for (let t = 0; t < taskCount; t++) {
    const first = bounds[t]!;
    const mine = funded.slice(first, bounds[t + 1]!);
    const laneStart = new Uint32Array(mine.length + 1);
    mine.forEach((account, k) => (laneStart[k + 1] = laneStart[k]! + account.outputs.length));
    const laneCount = laneStart[mine.length]!;
    const laneOutput = new Uint32Array(laneCount);
    const laneAmount = new BigUint64Array(laneCount);
    const secretKeys = new Uint8Array(mine.length * SECRET_KEY_BYTES);
    const publicKeys = new Uint8Array(mine.length * PUBLIC_KEY_BYTES);
    mine.forEach((account, k) => {
      secretKeys.set(account.pair.secretKey, k * SECRET_KEY_BYTES);
      publicKeys.set(account.pair.publicKey, k * PUBLIC_KEY_BYTES);
      laneOutput.set(account.outputs, laneStart[k]!);
      laneAmount.set(account.amounts, laneStart[k]!);
    });
    const n = perTask[t]!;
    tasks.push({
      task: {
        genesisHash, payment, fee, secretKeys, publicKeys, laneStart, laneOutput, laneAmount,
        senders: new Uint32Array(n), lanes: new Uint32Array(n), recipients: new Uint8Array(n * 32), cross: new Uint8Array(n),
      },
      positions: new Uint32Array(n),
    });
  }
  const filled = new Uint32Array(taskCount);
  for (let p = 0; p < schedule.senders.length; p++) {
    const sender = schedule.senders[p]!;
    const t = taskOf[sender]!;
    const { task, positions } = tasks[t]!;
    const k = filled[t]!++;
    positions[k] = p;
    task.senders[k] = sender - bounds[t]!;
    task.lanes[k] = schedule.lanes[p]!;
    task.recipients.set(funded[schedule.recipients[p]!]!.pair.publicKey, k * PUBLIC_KEY_BYTES);
    task.cross[k] = schedule.cross[p]!;
  }
  return tasks;
}

/**
 * Plans and signs `count` transfers (see the file comment). Signing runs on `threads` worker
 * threads, which are stopped before this resolves.
 */
export async function generateLoad(options: WorkloadOptions): Promise<LoadSet> {
  const { payment, fee, threads, crossShard } = checkOptions(options);
  const { genesis, count, seed } = options;
  const funded = fundedAccounts(genesis, options.accounts);
  const schedule = drawSchedule(funded, count, seed, crossShard);
  checkFunds(funded, schedule, payment, fee);
  const genesisHash = genesisTxid(genesis);
  const taskCount = Math.min(funded.length, threads * TASKS_PER_THREAD);
  const tasks = buildTasks(funded, schedule, genesisHash, payment, fee, taskCount);

  const slots = new Uint8Array(count * SLOT_BYTES);
  const lengths = new Uint32Array(count);
  const txids = new Uint8Array(count * TXID_BYTES);
  const pool = new Piscina({ filename: SIGN_WORKER_FILE, execArgv: [...workerExecArgv()], minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  try {
    await Promise.all(
      tasks.map(async ({ task, positions }) => {
        let result: SignResult;
        try {
          result = (await pool.run(task, { name: SIGN_TASK })) as SignResult;
        } catch (error) {
          throw new IosError<LoadErrorCode>("LOAD_SIGNING_FAILED", `a signing worker failed: ${(error as Error).message}`);
        }
        const encodings = new Uint8Array(result.encodings);
        const sizes = new Uint32Array(result.lengths);
        const ids = new Uint8Array(result.txids);
        positions.forEach((p, k) => {
          slots.set(encodings.subarray(k * SLOT_BYTES, (k + 1) * SLOT_BYTES), p * SLOT_BYTES);
          lengths[p] = sizes[k]!;
          txids.set(ids.subarray(k * TXID_BYTES, (k + 1) * TXID_BYTES), p * TXID_BYTES);
        });
      }),
    );
  } finally {
    await pool.destroy();
  }
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) offsets[i + 1] = offsets[i]! + lengths[i]!;
  const bytes = new Uint8Array(offsets[count]!);
  for (let i = 0; i < count; i++) bytes.set(slots.subarray(i * SLOT_BYTES, i * SLOT_BYTES + lengths[i]!), offsets[i]!);
  const shards = new Uint16Array(count);
  for (let p = 0; p < count; p++) shards[p] = funded[schedule.senders[p]!]!.shard;
  return new LoadSet({ genesisHash, seed, shardCount: genesis.shardCount }, bytes, offsets, shards, txids);
}
