/**
 * Whole validators in the simulator: every validator of a genesis as a `ValidatorNode` — the
 * production pipeline, shard driver (solo, BFT or PoB), shard state and UTXO table — wired over
 * the simulator's virtual clock, network and per-incarnation rng, a memory chain store on a disk
 * that survives crashes, a finality log that survives them too (the validator's data directory),
 * and an in-process verifier pool. Restart, reconfiguration and byzantine behaviour are then
 * tested by seed, with the same code that runs in `ios node`.
 *
 * Asynchrony. A node's pipeline and BFT validation resolve promises, which JavaScript runs only
 * when the simulator's synchronous loop yields; `advance` therefore runs the agenda in slices of
 * SLICE_MS of virtual time and lets every pending promise callback run between slices. The
 * slicing is part of the run, so a run stays a pure function of its seed.
 *
 * Phases of a run: `new ValidatorCluster(...)` registers every validator (their start events
 * run at the current virtual time), the test schedules load and faults (`submit`, `crash`,
 * `restart`, `addRegistrant`: a node whose key is not in the genesis, started later from an
 * empty disk), `advance(...)` runs, and the checks read every replica (`replicas`, `serving`,
 * `agreement`, `status`).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import type { SubmitResult, TxStatus } from "../api/interface.js";
import { MemoryFinalityLog, type FinalityLog } from "../consensus/bft/log.js";
import { genesisEpochContext } from "../epoch/context.js";
import type { EpochContext } from "../epoch/interface.js";
import { IosError, check } from "../errors.js";
import { toHex } from "../hex.js";
import { sameBytes } from "../bytes.js";
import type { Genesis } from "../ledger/genesis.js";
import type { KeyPair } from "../ledger/keys.js";
import { DEFAULT_API_LIMITS, REGISTRANT_HOME_SHARD, pruneOf, type ConsensusSettings, type NodeConfig, type NodeSetup, type PipelineSettings, type StoreSettings } from "../node/config.js";
import { InlineVerifierPool } from "../node/pool/inline-pool.js";
import { ShardState } from "../node/shard-state.js";
import { ValidatorNode } from "../node/validator.js";
import type { PeerId } from "../net/interface.js";
import { MemoryChainStore, MemoryDisk } from "../store/memory-store.js";
import type { SimErrorCode } from "./errors.js";
import type { HandlerFailures } from "../log/handler-failures.js";
import type { NodeContext, Simulator } from "./simulator.js";

/** Virtual time between two turns of the JavaScript event loop: promise callbacks run at most this late. */
export const SLICE_MS = 1;
/**
 * `advance`'s check interval for predicates that ask every replica about every transaction:
 * every slice, such a check took a quarter to two fifths of a whole-node test's CPU.
 */
export const SETTLED_CHECK_MS = 10;

export interface ClusterOptions {
  readonly sim: Simulator;
  readonly genesis: Genesis;
  /** The genesis validators' keys (any order). */
  readonly keys: readonly KeyPair[];
  readonly consensus: ConsensusSettings;
  readonly pipeline?: Partial<PipelineSettings>;
  /** Every node's store settings (NodeConfig `store`: pruning). */
  readonly store?: StoreSettings;
  /** ValidatorDeps `restAtBoundary`: shards rest at their epoch's end until the next configuration (a fixed history). */
  readonly restAtBoundary?: boolean;
}

/** What a validator keeps across crashes: its chain stores' disks (one per shard it held) and its finality logs (one per shard and epoch). */
interface Disk {
  readonly chains: Map<number, MemoryDisk>;
  readonly logs: Map<string, FinalityLog>;
}

export interface ClusterNodeFailure {
  readonly id: PeerId;
  readonly error: unknown;
}

export class ValidatorCluster {
  readonly sim: Simulator;
  readonly context: EpochContext;
  /** `members` by shard, hex once: tests read them in `advance` predicates, every slice. */
  readonly #memberIds = new Map<number, readonly PeerId[]>();
  /** Fatal driver errors reported by any incarnation (a healthy run has none). */
  readonly failures: ClusterNodeFailure[] = [];
  readonly #setups = new Map<PeerId, NodeSetup>();
  readonly #disks = new Map<PeerId, Disk>();
  /** Every incarnation's handler failures: a message handler that threw. */
  readonly #handlerFailures: HandlerFailures[] = [];
  readonly #options: ClusterOptions;

  constructor(options: ClusterOptions) {
    const { sim, genesis } = options;
    this.sim = sim;
    this.context = genesisEpochContext(genesis);
    this.#options = options;
    const keys = new Map(options.keys.map((key) => [toHex(key.publicKey), key]));
    for (const validator of genesis.validators) {
      const id = toHex(validator.publicKey);
      const key = keys.get(id);
      check<SimErrorCode>(key !== undefined, "SIM_BAD_CONFIG", `no key for genesis validator ${id}`);
      this.#add(key);
    }
  }

  /**
   * Starts, now, a node for a key the genesis does not list (PoB with an epoch length): an empty
   * disk, the genesis and the key, as `ios node` would with a fresh data directory. It waits
   * until an epoch lists the key (its registration final in the epoch before), then enters.
   */
  addRegistrant(key: KeyPair): PeerId {
    const id = toHex(key.publicKey);
    check<SimErrorCode>(!this.#setups.has(id), "SIM_BAD_CONFIG", `node ${id} is already in the cluster`);
    check<SimErrorCode>(this.context.shardOf(key.publicKey) === undefined, "SIM_BAD_CONFIG", `${id} is a genesis validator`);
    this.#add(key);
    return id;
  }

  /** Registers a node of `key` in the simulator: its setup (home shard: the genesis's, or shard 0 for a registrant) and an empty disk. */
  #add(key: KeyPair): void {
    const { genesis } = this.#options;
    const id = toHex(key.publicKey);
    const genesisShard = this.context.shardOf(key.publicKey);
    const config: NodeConfig = {
      file: `sim:${id}`,
      genesisFile: "sim:genesis",
      keyFile: `sim:${id}.key`,
      dataDir: `sim:${id}`,
      listen: { host: "127.0.0.1", port: 0, peerPort: 0 },
      peers: genesis.validators.map((validator) => toHex(validator.publicKey)).filter((peer) => peer !== id).map((publicKey) => ({ publicKey, url: undefined })),
      pipeline: this.#options.pipeline ?? {},
      api: DEFAULT_API_LIMITS,
      consensus: this.#options.consensus,
      ...(this.#options.store === undefined ? {} : { store: this.#options.store }),
    };
    this.#setups.set(id, { config, genesis, key, context: this.context, shard: genesisShard ?? REGISTRANT_HOME_SHARD, registrant: genesisShard === undefined });
    this.#disks.set(id, { chains: new Map(), logs: new Map() });
    this.sim.addNode(id, (node) => this.#boot(id, node));
  }

  /** One incarnation: open the shard state on the surviving disk, wire the node, start its driver. */
  #boot(id: PeerId, { transport, clock, rng, logger, failures }: NodeContext): ValidatorNode {
    this.#handlerFailures.push(failures);
    const setup = this.#setups.get(id)!;
    const disk = this.#disks.get(id)!;
    const node = ValidatorNode.wire(setup, {
      clock,
      rng,
      transport,
      openState: (shard) => {
        let chain = disk.chains.get(shard);
        if (chain === undefined) disk.chains.set(shard, (chain = new MemoryDisk(`${id}/${shard}`)));
        return ShardState.open({ store: MemoryChainStore.open(chain), genesis: setup.genesis, shard, prune: pruneOf(setup.config) });
      },
      pool: new InlineVerifierPool(),
      // The log of a (shard, epoch)'s first opening is the disk's: later incarnations find their records and votes there.
      openLog: (shard, epoch, instance) => (firstHeight) => {
        const key = `${shard}/${epoch}/${instance}`;
        let log = disk.logs.get(key);
        if (log === undefined) disk.logs.set(key, (log = new MemoryFinalityLog(firstHeight)));
        return log;
      },
      ...(this.#options.restAtBoundary === true ? { restAtBoundary: true } : {}),
      onError: (error) => {
        logger.error({ err: error }, "shard driver stopped");
        this.failures.push({ id, error });
      },
      logger,
    });
    node.run();
    return node;
  }

  /** Exceptions thrown by message handlers across all incarnations (a healthy run has none). */
  get handlerFailures(): number {
    return this.#handlerFailures.reduce((sum, failures) => sum + failures.total, 0);
  }

  /** The same failures as `subsystem:code ×count` entries, for a failing test's message. */
  get handlerFailureCodes(): string[] {
    return this.#handlerFailures.flatMap((failures) => failures.metrics().flatMap((family) => family.samples.map((sample) => `${sample.labels?.["subsystem"]}:${sample.labels?.["code"]} ×${sample.value}`)));
  }

  /** Validators of `shard` in the epoch, as peer ids. */
  members(shard: number): readonly PeerId[] {
    let ids = this.#memberIds.get(shard);
    if (ids === undefined) this.#memberIds.set(shard, (ids = this.context.members(shard).map(toHex)));
    return ids;
  }

  /** The running incarnation of `id`, undefined while crashed. */
  node(id: PeerId): ValidatorNode | undefined {
    return this.sim.node<ValidatorNode>(id).instance;
  }

  /** Running validators of `shard`. */
  replicas(shard: number): ValidatorNode[] {
    return this.members(shard).flatMap((id) => this.node(id) ?? []);
  }

  /** Running validators that serve `shard` in the epoch each of them is in now (epochs move validators between shards; registrants enter, leavers wait). */
  serving(shard: number): ValidatorNode[] {
    return [...this.#setups.keys()].flatMap((id) => this.node(id) ?? []).filter((node) => node.serving && node.shard === shard);
  }

  /** Kills `id` now: timers and links die with it, its disk keeps only what was committed. */
  crash(id: PeerId): void {
    this.sim.crash(id);
    for (const chain of this.#disks.get(id)!.chains.values()) chain.crash();
  }

  /** Starts `id` again from its disk. */
  restart(id: PeerId): void {
    this.sim.restart(id);
  }

  /** Submits to a running validator of `shard` as a client would; undefined when none runs. */
  submit(shard: number, transactions: readonly Uint8Array[], via?: PeerId): Promise<readonly SubmitResult[]> | undefined {
    const node = via === undefined ? this.replicas(shard)[0] : this.node(via);
    return node?.submit(transactions);
  }

  /**
   * Submits as `submit` does and runs virtual time until the answers come (the pool verifies
   * inside it), at most `withinMs`; throws SIM_TIMEOUT when they do not.
   */
  async submitAndWait(shard: number, transactions: readonly Uint8Array[], via?: PeerId, withinMs = 2_000): Promise<readonly SubmitResult[]> {
    let answers: readonly SubmitResult[] | undefined;
    void this.submit(shard, transactions, via)?.then((results) => (answers = results));
    if (!(await this.advance(withinMs, () => answers !== undefined))) throw new IosError<SimErrorCode>("SIM_TIMEOUT", `no answer to ${transactions.length} transaction(s) within ${withinMs} ms`);
    return answers!;
  }

  /** The status `id` answers for `txid`, or undefined while it does not run. */
  status(id: PeerId, txid: Uint8Array | string): TxStatus | undefined {
    return this.node(id)?.driver.status(typeof txid === "string" ? Buffer.from(txid, "hex") : txid);
  }

  /**
   * Runs the simulation for `ms` of virtual time, or until `done` holds; true if `done` held.
   * `done` runs every `checkEveryMs` of virtual time (and at the end): a predicate that asks every
   * replica about every transaction is worth checking less often than every slice, at the price of
   * stopping up to that much later.
   */
  async advance(ms: number, done?: () => boolean, checkEveryMs = SLICE_MS): Promise<boolean> {
    const until = this.sim.now() + ms;
    let checkedAt = -Infinity;
    for (;;) {
      const now = this.sim.now();
      if (done !== undefined && (now - checkedAt >= checkEveryMs || now >= until)) {
        checkedAt = now;
        if (done()) return true;
      }
      if (now >= until) return done === undefined;
      this.sim.run({ until: Math.min(until, this.sim.now() + SLICE_MS) });
      // Twice: a callback may resolve a promise whose own callback must run before the next slice.
      await nextTurn();
      await nextTurn();
    }
  }

  /**
   * The agreement invariant (DESIGN.md §11) over the running replicas of `shard`: the height they
   * all reached, and the first height at or below it where their stored blocks differ (undefined
   * when none does).
   */
  agreement(shard: number): { readonly commonHeight: number; readonly firstDifference: number | undefined } {
    const replicas = this.replicas(shard);
    const commonHeight = Math.min(...replicas.map((node) => node.state.tip.height));
    // Blocks below a replica's pruning horizon are gone (an MSB join, pruning): the comparison starts where all hold them.
    for (let height = Math.max(1, ...replicas.map((node) => node.state.prunedBelow)); height <= commonHeight; height++) {
      const first = replicas[0]!.state.getBlock(height)!;
      if (!replicas.every((node) => sameBytes(node.state.getBlock(height)!, first))) return { commonHeight, firstDifference: height };
    }
    return { commonHeight, firstDifference: undefined };
  }

  /** Stops every running node (closing state and pool). */
  async stop(): Promise<void> {
    for (const id of this.#setups.keys()) await this.node(id)?.stop();
  }
}
