/**
 * Proof-of-Believability in a validator process (white paper §7.2; issue 6): the protocol of
 * src/consensus/pob (PobNode) over the real transport, with the pipeline's worker pool doing the
 * believable validator's verification and the shard state (LMDB) holding every final block.
 *
 *   setup    the epoch context gives the shard's members, their believability accounts, the
 *            sharding policy and the leagues drawn from the epoch randomness;
 *   intake   a client's transaction goes to its assignee (`assignee(spenderOf(tx), believable)`):
 *            kept when that is this validator, else relayed to it (TX_RELAY, one hop); in the
 *            one-league fallback it goes to the normal league as PobNode relays it;
 *   phase 1  a believable validator's pipeline verifies what it receives in the worker pool; the
 *            verified transactions pass the producer's view checks (`offerVerified`) and are
 *            sealed every `optimisticIntervalMs`; every validator that holds an optimistic block
 *            with a valid seal announces its transactions to its clients (optimistic events);
 *   phase 2  the normal league's BFT orders optimistic blocks; each validator executes the final
 *            proposal through `PobValidator`, whose writes go to one shard-state assembly (a
 *            member executes before co-signing; an execution that does not become final aborts
 *            the assembly), then commits ONE final block for it in ONE LMDB transaction: kind
 *            Final, the included transactions in final order, sealed with the commit certificate,
 *            with the replica record stored beside it (src/consensus/pob/replica-state.ts: proposal
 *            hash, state commitment, accounts, leagues, ordered blocks — what a restart resumes
 *            from) and, at the epoch's last height, the shard's MSB (src/node/msb.ts: built in the
 *            execution, its header hash bound by the commitment); the pipeline then publishes the block's final and excluded
 *            transactions to clients. A replica whose commitment differs from the decided one
 *            stops with POB_STATE_DIVERGED.
 *
 * Heights: final proposal h is stored block h (the epoch starts at the context's startHeight), so the BFT height,
 * the PoB height and the store's tip agree, and a restarted normal validator resumes from its
 * finality log, re-applying logged records once their block bodies are fetched again.
 *
 * Instances (TransEpoch, src/epoch/transepoch): a driver decides in one consensus instance. By
 * default the epoch's own (batch B), from the height it took over (`takeover`: where the epoch's
 * opening instance ended) to the epoch's last height, which makes the boundary. An *opening*
 * driver (`opening`) runs the next epoch's batch 0 (`EpochContext.opening`) with this epoch's
 * committee, leagues and accounts from the boundary on, while the next configuration is made; its
 * BFT heights count from the next epoch's start, it decides at most up to that epoch's last height
 * but one, and its rule (`MoveSwapRule`, unconfigured until the configuration is known here) lets
 * it end at a certified height: `onInstanceEnd` reports that height, where the node starts the
 * driver of the batch the swap-in moved to.
 * A *batch* driver (`batch`, TransEpoch stage B) runs instance (e+1, shard, b), 1 ≤ b < B, the
 * same way but with committee(b) of the move as its BFT committee (this epoch's leagues and
 * accounts otherwise: src/epoch/transepoch/batch-leagues.ts), on batch b's lane
 * (net/channels.ts `batchLane`), with the schedule's `ShardSwaps` in its `MoveSwapRule`. Joiners'
 * SWAP_REQUEST messages on the lane of an opening or a batch feed the rule (refusals counted by
 * code, never thrown); the certified swap-in of batch b + 1, or the forced end to B, ends the
 * instance.
 *
 * Left out (documented in docs/ARCHITECTURE.md): a restarted believable validator (outside the
 * BFT log) does not catch up on records it missed.
 *
 * API: class `PobShardConsensus`, a `ShardDriver` (start, stop, submit, status, onConfirmations,
 * onOptimistic, describe, metrics), with `node` and `leagues` for tests.
 */
import type { MetricFamily } from "../../api/interface.js";
import { IosError, invariant } from "../../errors.js";
import type { PobErrorCode } from "../../consensus/pob/errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import type { ConsensusInstance, EpochContext } from "../../epoch/interface.js";
import type { FinalityRecord } from "../../consensus/bft/codec.js";
import { assignee, spenderOf } from "../../consensus/pob/assignment.js";
import { NO_MSB, PobValidator, type FinalOutcome } from "../../consensus/pob/finalization.js";
import type { Leagues } from "../../consensus/pob/leagues.js";
import { decodeProposal, type FinalProposal } from "../../consensus/pob/proposal.js";
import { decodeReplicaRecord, encodeReplicaRecord } from "../../consensus/pob/replica-state.js";
import { PobNode, type OptimisticAnnouncement } from "../../consensus/pob/protocol.js";
import type { OptimisticProducer } from "../../consensus/pob/optimistic.js";
import { BlockKind, blockHash, encodeBlock, makeBlockHeader } from "../../ledger/block.js";
import { encodeInclusion, makeInclusion } from "../../consensus/pob/evidence.js";
import type { KeyPair } from "../../ledger/keys.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import { RecordCursor } from "../../ledger/records.js";
import { applyRecordOf } from "../../ledger/kinds/registry.js";
import { transactionIdIfWellFormed, transactionIdOfEncoding } from "../../ledger/transaction.js";
import { TX_PREFIX, TxKind } from "../../ledger/kinds/interface.js";
import type { ProvenChange } from "../../epoch/transition/interface.js";
import type { ProvenTransaction } from "../../store/interface.js";
import type { Boundary } from "../../epoch/transition/messages.js";
import type { Channel, PeerId, Transport } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import { toHex } from "../../hex.js";
import { OptimisticIndex } from "./optimistic-index.js";
import { MAX_PENDING_TXS, type Pipeline } from "../pipeline.js";
import type { MempoolEntry } from "../mempool.js";
import { WORKER_KEY_CACHE_SIZE } from "../pool/interface.js";
import { optimisticBatchOf, type AtomixBatch, type OptimisticBatch } from "../../api/stream-codec.js";
import type { BlockEvent, ShardDriver, SubmitResult, TxStatus } from "./interface.js";
import { DEFAULT_FANOUT, DEFAULT_LEVEL_TIMEOUT_MS, DEFAULT_VIEW_TIMEOUT_MS } from "./shard-consensus.js";
import type { BlockAssembly, ShardState } from "../shard-state.js";
import { memoryFinalityLogs, type FinalityLog, type FinalityLogOpener } from "../../consensus/bft/log.js";
import { sameBytes } from "../../bytes.js";
import { CommitteeProofVerifier, DECISIVE_CODES, FinalHeightProver, committeesOfContext, decodeDecisionProof } from "../../atomix/proof.js";
import { encodeAtomixPhase, isLockDecision, type AtomixDecision } from "../../atomix/phases.js";
import { AtomixWatcher, SETTLED_REWATCH_HEIGHTS } from "../../atomix/watcher.js";
import type { AtomixWrite, StoredMsb } from "../../store/interface.js";
import { buildMsb, type BuiltMsb } from "../msb.js";
import type { MoveSwapRule } from "../../epoch/transepoch/move-rule.js";
import { batchLane, openingLane } from "../../net/channels.js";
import { batchLeagues } from "../../epoch/transepoch/batch-leagues.js";
import { TXID_BYTES } from "../../codec/sizes.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { codeBytesOf, codedTxidsSize, readCodedTxids, writeCodedTxids } from "../../codec/coded-txids.js";

/** Client transactions relayed to their assignee: block-body framing (u32le length ‖ tx)*. */
export const TX_RELAY = messageType("client", 1);
/** An assignee's refusals of transactions relayed to it, for their relayer: u32 count ‖ count coded txids (src/codec/coded-txids.ts). */
export const TX_REFUSED = messageType("client", 2);
/**
 * An assignee's answer to a relay that duplicates a transaction final there: u64 the highest such
 * transaction's height. A relayer below it is behind the chain and fetches the heights it lacks
 * (`PobNode.heardAhead`), rather than find its producer overdue for what it served.
 */
export const TX_FINAL_AHEAD = messageType("client", 3);
/**
 * A relayed transaction neither sealed in an optimistic block, final, nor refused this long after
 * its relay settles as RELAY_UNANSWERED (its assignee is down or lost it); a final block that
 * includes it later still answers "final". 10 s is 200 optimistic intervals of the default policy.
 */
export const RELAY_ANSWER_MS = 10_000;
/** Relayed transactions awaiting an answer, per relayer, and relayers remembered per assignee: the mempool's bound. */
const MAX_RELAYED = MAX_PENDING_TXS;
/** Overdue relays to one producer a sign of life from it checks at most (`#owes`). */
const MAX_OWED_CHECKS = 64;
/** Blocks a producer resent to relayers (`#resendSealed`), remembered with whom: each goes to a relayer once. */
const MAX_RESENT_BLOCKS = 4096;
/** A refusal's code: an error code of this tree (upper case, digits, underscores), at most 64 characters. */
const REFUSAL_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** A leader orders an optimistic block 5 ms after receiving it: loopback delivery to its peers takes well under that. */
export const DEFAULT_ORDER_DELAY_MS = 5;
/**
 * The idle heartbeat: a shard with nothing to finalize decides an empty final height every 5 s
 * (PobNodeConfig `idleProposalMs`); work ends the wait at once. 5 s keeps an idle validator under
 * 1% of a core on this machine (bench/results/idle.json; 2 s measured 1.1–1.3%).
 */
export const DEFAULT_IDLE_PROPOSAL_MS = 5000;
/**
 * Heights at least 150 ms apart (PobNodeConfig `minHeightIntervalMs`). At 1,000 tx/s a default
 * devnet's heights came every ~50 ms with ~26 transactions each, and their fixed costs made a
 * normal member spend ~320 µs of CPU per final transaction; at 150 ms apart (~75 each) it spent
 * ×0.58 of that, final p50 145 → 176 ms, optimistic p50 50 → 42 ms (bench/cpu-role, medians of 4
 * pairs, `cpu-role-s27-height-spacing-ab.json`). Saturated, heights mostly take longer than this:
 * every figure within the noise there.
 */
export const DEFAULT_MIN_HEIGHT_INTERVAL_MS = 150;
/** Optimistic announcements remembered for `optimisticStatus`: ~10 s at 20k tx/s. */
export const OPTIMISTIC_STATUS_ENTRIES = 200_000;
/**
 * A producer holds a transaction whose input does not exist yet this long before refusing it
 * MISSING_INPUT: a chain's parent may reach it later than the child — relayed by another
 * validator, carried over an epoch switch, or lost with a relay to a validator still switching, in
 * which case its relayer answers RELAY_UNANSWERED after RELAY_ANSWER_MS and the client sends it
 * again. The children wait that long and a little more.
 */
export const ORPHAN_WAIT_MS = RELAY_ANSWER_MS + 2_000;
/** Orphans re-offered this often while any waits (admissions and commits re-offer them too). */
const ORPHAN_SWEEP_MS = 100;
/** Orphans held at most: beyond, a missing input is refused at once. */
const MAX_ORPHANS = 16_384;
/** Relayed transactions per message: 1,024 transfers ≈ 230 KB (TxGossip's batch). */
const RELAY_BATCH_TXS = 1024;

export interface PobConsensusOptions {
  readonly context: EpochContext;
  /** The epoch before `context` (none in epoch 0): its committees' Atomix proofs are still accepted. */
  readonly previous?: EpochContext;
  readonly shard: number;
  readonly key: KeyPair;
  /** PoB opens two channels on it: (consensus, shard, epoch) for PoB, its BFT and CoSi, (client, shard, epoch) for relays. */
  readonly transport: Transport;
  /** This validator's pipeline: verifies what the producer seals and settles final blocks. */
  readonly pipeline: Pipeline;
  /** The shard state final blocks are committed to (the pipeline's). */
  readonly state: ShardState;
  readonly viewTimeoutMs?: number;
  readonly levelTimeoutMs?: number;
  readonly fanout?: number;
  readonly idleProposalMs?: number;
  readonly minHeightIntervalMs?: number;
  readonly orderDelayMs?: number;
  /** Opens the finality log of a normal-league member (votes and records); default: in memory. */
  readonly openLog?: FinalityLogOpener;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly verifier?: Ed25519Verifier;
  /** Called when committing a final block fails (the shard state is then unusable); consensus stops. */
  readonly onError?: (error: unknown) => void;
  /** How long a cross-shard lock is left to its client before this shard's watchers finish it (src/atomix/watcher.ts); default ATOMIX_GRACE_MS. */
  readonly atomixGraceMs?: number;
  /**
   * The height this driver's instance continues from (its state's tip when it first started): the
   * epoch's opening instance's end for the epoch's own driver, the boundary for an opening driver.
   * Default: the context's start height (an epoch without an opening: epoch 0, stage-1 stores).
   */
  readonly takeover?: number;
  /**
   * Whether this driver runs the shard's Atomix watcher (default true). A node's transport holds one watcher per epoch (its
   * channels are the epoch's, one per shard): a mover's driver in the shard it joins, while its driver in the shard it leaves
   * runs under the same epoch's context, leaves the watching to that shard's other members.
   */
  readonly watchAtomix?: boolean;
  /** Run the next epoch's opening instance (batch 0) with this context's committee and leagues, ended by this rule (module doc). */
  readonly opening?: MoveSwapRule;
  /**
   * Run batch `index` (1..B − 1) of `shard`'s move into the next epoch `next` (module doc): instance (next.epoch, shard,
   * index) with committee(index) and this context's leagues and accounts, ended by `swaps` (at batch `index`).
   */
  readonly batch?: BatchRun;
}

/** A batch driver's instance (PobConsensusOptions `batch`). */
export interface BatchRun {
  readonly next: EpochContext;
  readonly index: number;
  /** The rule at batch `index`, configured (its `ShardSwaps` at that batch). */
  readonly swaps: MoveSwapRule;
}

/** A joiner's signed request to be swapped in (src/epoch/transepoch/swap.ts SWAP_REQUEST), sent on the lane of the batch before its own. */
export const SWAP_REQUEST = messageType("consensus", 0x18);

/** An ATOMIX frame's empty certificate, and the empty path of a decision that is not a lock decision. */
const NONE = new Uint8Array(0);

/**
 * A client finishes its cross-shard transfer in a few final heights (p50 about 5 s on a saturated
 * default devnet, bench/results/atomix.json); after this the shard's watchers do, so that they
 * do not race healthy clients with duplicate unlocks.
 */
export const ATOMIX_GRACE_MS = 10_000;
/** Between two rounds of the watchers' queries and submissions. */
export const ATOMIX_RETRY_MS = 1_000;
/** Transaction states in which a shard holds a transaction: a watcher does not submit it again. */
const HELD_STATES = new Set(["pending", "optimistic", "final"]);

export class PobShardConsensus implements ShardDriver {
  readonly mode = "pob";
  readonly node: PobNode;
  readonly members: readonly Uint8Array[];
  readonly #pipeline: Pipeline;
  readonly #state: ShardState;
  readonly #context: EpochContext;
  /** The consensus instance this driver decides in: the epoch's own (batch B), or the next epoch's opening (batch 0). */
  readonly #instance: ConsensusInstance;
  /** The chain height the instance's BFT heights count from: the start of the instance's epoch. */
  readonly #epochStart: number;
  /** The height the instance ended at (its certified proposal carries a swap-in), once final here. */
  #instanceEnd: number | undefined;
  readonly #instanceEndListeners = new Set<(height: number) => void>();
  /** An opening's or a batch driver's rule (its joiners' requests and their refusals). */
  #swaps: MoveSwapRule | undefined;
  readonly #clock: Clock;
  readonly #consensusChannel: Channel;
  readonly #clientChannel: Channel;
  readonly #self: Uint8Array;
  /** The final block being assembled from the proposal PobValidator applies (one per height). */
  #assembly: BlockAssembly | undefined;
  readonly #log: FinalityLog | undefined;
  readonly #onError: (error: unknown) => void;
  /** Confirmed transactions of optimistic blocks: the block (for its proof) and the position in it. */
  readonly #optimistic = new OptimisticIndex(OPTIMISTIC_STATUS_ENTRIES);
  readonly #relayQueues = new Map<PeerId, Uint8Array[]>();
  #relayTimer: TimerHandle | undefined;
  /** Relayer side: transactions relayed and not answered yet, oldest first, with their assignee and bytes (handed on at a stop). */
  readonly #relayed = new Map<string, { readonly peer: PeerId; readonly txid: Uint8Array; readonly tx: Uint8Array; readonly at: number }>();
  /** The producers this driver has heard from (a sealed block or a heartbeat) since it started. */
  readonly #heard = new Set<PeerId>();
  #relaySweep: TimerHandle | undefined;
  /** Submissions under way (awaiting the verifier): `acceptedUnsettled` waits for them. */
  readonly #submissions = new Set<Promise<readonly SubmitResult[]>>();
  /** Producer side: verified transactions whose input is missing, waiting for their parent (`#offer`). */
  readonly #orphans = new Map<string, { readonly entry: MempoolEntry; readonly since: number }>();
  #orphanTimer: TimerHandle | undefined;
  /** Assignee side: every validator that relayed each transaction pending here, to tell each of a refusal. */
  readonly #relayers = new Map<string, PeerId[]>();
  readonly #refusalQueues = new Map<PeerId, { txid: Uint8Array; code: string }[]>();
  /** Assignee side: the held blocks resent to each relayer (hex hash → peers), oldest first, at most MAX_RESENT_BLOCKS. */
  readonly #resent = new Map<string, PeerId[]>();
  #refusalTimer: TimerHandle | undefined;
  #unsubscribe: (() => void) | undefined;
  #failed = false;
  /** No more work taken (stopped, or retired: module doc). */
  #stopped = false;
  /** Stopped for good: the BFT and its lane closed too. */
  #closed = false;
  /** Finishes cross-shard transfers whose client vanished (src/atomix/watcher.ts); undefined when `watchAtomix` is false. */
  readonly atomix: AtomixWatcher | undefined;
  readonly #atomixListeners = new Set<(batch: AtomixBatch) => void>();
  /** This epoch's registrations and leaves final here, each with its acceptance proof (read back from the store after a restart). */
  readonly #epochChanges: ProvenChange[] = [];
  /** The MSB the open execution of the epoch's last height built (src/node/msb.ts), stored if it becomes final. */
  #builtMsb: (BuiltMsb & { readonly height: number }) | undefined;
  /** Wall time of the last MSB build here (ms), for ios_msb_build_ms. */
  #msbBuildMs = 0;
  /** The epoch's boundary once its last height is final here. */
  #boundary: Boundary | undefined;
  readonly #boundaryListeners = new Set<(boundary: Boundary) => void>();

  constructor(options: PobConsensusOptions) {
    const { context, shard, key, pipeline, state, transport, clock } = options;
    this.#context = context;
    const { opening, batch } = options;
    // Both an opening and a batch driver decide the next epoch's heights before its own committee does.
    const moving = opening !== undefined || batch !== undefined;
    const rule = opening ?? batch?.swaps;
    invariant(!moving || context.epochLength !== undefined, "only an epoch with a length opens the next");
    invariant(opening === undefined || batch === undefined, "a driver runs the opening or a batch, not both");
    if (batch !== undefined) {
      invariant(batch.next.epoch === context.epoch + 1 && batch.index >= 1 && batch.index < batch.next.batchCount(shard) && batch.swaps.configured && batch.swaps.batch === batch.index,
        "a batch driver runs a batch 1..B − 1 of the move into the next epoch, its swaps at that batch");
    }
    this.#instance = batch !== undefined ? batch.next.instance(shard, batch.index) : opening === undefined ? context.instance(shard) : context.opening(shard).instance;
    this.#epochStart = moving ? context.startHeight + context.epochLength! : context.startHeight;
    const takeover = options.takeover ?? this.#epochStart;
    if (context.epochLength !== undefined && !moving) {
      // The epoch's changes final before a restart (or in its opening instance), as the store kept them with their blocks.
      for (const { tx, proof } of state.changeProofs()) if (decodeDecisionProof(proof).epoch === context.epoch) this.#epochChanges.push({ tx, proof });
    }
    this.#pipeline = pipeline;
    this.#state = state;
    this.#clock = clock;
    this.#self = key.publicKey;
    this.#onError = options.onError ?? (() => undefined);
    const accounts = context.believability(shard);
    let leagues = context.leagues(shard);
    if (batch === undefined) this.members = context.members(shard);
    else {
      const committee = batch.next.committee(shard, batch.index);
      leagues = batchLeagues(leagues, committee);
      // Joiners from other shards (or new) are no members of this context's shard, yet take part and learn the final heights.
      this.members = [...context.members(shard), ...committee.filter((key) => !context.members(shard).some((member) => sameBytes(member, key)))];
    }
    // The sampled re-verification meets about as many distinct senders as a worker batch (~1,000 per
    // shard of the devnet): the default 512 decoded keys thrashed, decompressing most keys again.
    const verifier = options.verifier ?? new Ed25519Verifier({ keyCacheSize: WORKER_KEY_CACHE_SIZE });
    // Cross-shard transactions: proofs from any shard's committee of this epoch; phases from this shard's store.
    const trusted = options.previous === undefined ? [context] : [options.previous, context];
    const atomix = { verifier: new CommitteeProofVerifier(committeesOfContext(...trusted), verifier), phases: state };
    const validator = new PobValidator({
      shard, shardCount: context.shardCount, accounts, leagues, verifier, atomix, epoch: this.#instance.epoch,
      sealedHere: (hash) => this.node.producer?.sealedHere(hash) === true,
      chain: { transactions: (height) => state.blockTransactions(height), createdOutput: (txid, index) => state.createdOutput(txid, index) },
      bondOf: (publicKey) => context.bondOf(publicKey),
      departureOf: (bond) => context.departureOf(bond),
      ...(context.epochLength === undefined ? {} : { msbAt: (height: number, decisions: readonly AtomixDecision[]) => this.#msbAt(height, decisions) }),
      previousBlock: (height) => {
        invariant(state.tip.height === height - 1, "a height executes on the stored chain's tip");
        return state.tip.hash;
      },
      utxo: {
        applyBlock: (records, count) => ({ statuses: (this.#assembly ??= state.assemble({ undoable: true })).apply(records, count) }),
        // A speculative execution that did not become final: the assembly's writes go.
        undoLastBlock: () => {
          this.#assembly?.abort();
          this.#assembly = undefined;
        },
        get supply() {
          return state.supply;
        },
        get count() {
          return state.utxoCount;
        },
      },
    });
    const tip = state.tip.height;
    if (tip > takeover) {
      // The instance's replica records, oldest first: accounts, leagues, re-check history, duplicate window.
      const records = [];
      for (let height = takeover + 1; height <= tip; height++) {
        const stored = state.consensusStateAt(height);
        invariant(stored !== undefined, "a PoB shard state stores its replica record with every final block");
        records.push({ height, record: decodeReplicaRecord(stored) });
      }
      validator.resume(tip, state.tipTimestamp, records);
      // Restarted at the epoch's last height: the boundary is the stored certificate's, with the epoch's changes.
      if (context.epochLength !== undefined && !moving && tip === context.startHeight + context.epochLength) {
        this.#boundary = { certificate: state.certificateAt(tip)!, accounts: validator.accounts.snapshot(), changes: [...this.#epochChanges] };
      }
    } else if (takeover > 0) {
      // The instance's first proposal follows the last of the one before, as this state stored it.
      invariant(tip === takeover, "an instance's driver starts on a state that reached the height it takes over from");
      // A synced state has no replica record of that height: the stored certificate gives what the chain continues from.
      const previous = state.finalHeightAt(tip);
      invariant(previous !== undefined, "a PoB shard state stores a final-height certificate with every final block");
      validator.continueFrom(tip, previous.timestamp, { proposalHash: previous.proposalHash, tip: previous.stateCommitment });
    }
    if (moving) {
      // The boundary this epoch's own driver made (for the transition out of the epoch, when a restart starts here), as stored.
      const end = context.startHeight + context.epochLength!;
      const certificate = state.certificateAt(end);
      const stored = state.consensusStateAt(end);
      if (certificate !== undefined && stored !== undefined) {
        const changes = [...state.changeProofs()].filter(({ proof }) => decodeDecisionProof(proof).epoch === context.epoch).map(({ tx, proof }) => ({ tx, proof }));
        this.#boundary = { certificate, accounts: decodeReplicaRecord(stored).accounts, changes };
      }
      // Restarted after the instance's end was final here: it rests there (the BFT does too).
      const last = tip > takeover ? state.finalHeightRecord(tip) : undefined;
      if (last !== undefined && decodeProposal(last.proposal).swapIn !== undefined) this.#instanceEnd = tip;
    }
    // The epoch's committee, whatever the store says happened to the leagues since.
    const committee = validator.leagues.committee;
    const inCommittee = committee.some((p) => sameBytes(p, key.publicKey));
    // The log counts the epoch's BFT heights, as its records do (height h of the chain is BFT height h − startHeight).
    this.#log = inCommittee ? (options.openLog ?? memoryFinalityLogs)(tip - this.#epochStart + 1, committee.length) : undefined;
    const viewTimeoutMs = options.viewTimeoutMs ?? DEFAULT_VIEW_TIMEOUT_MS;
    // The opening and each batch have their own lane (net/channels.ts): their late members fetch their records from peers already deciding in the next instance.
    this.#consensusChannel = transport.open({
      protocol: "consensus",
      ...(batch !== undefined ? batchLane(shard, this.#instance.epoch, batch.index) : { shard, epoch: opening === undefined ? this.#instance.epoch : openingLane(this.#instance.epoch) }),
    });
    // Relays follow the leagues' assignment: an opening keeps its epoch's client channel, so validators still in the epoch's own
    // driver (or already in the opening) reach its producers without a gap.
    this.#clientChannel = transport.open({ protocol: "client", shard, epoch: context.epoch });
    this.node = new PobNode(
      {
        chainId: this.#instance.key, shard, shardCount: context.shardCount, viewTimeoutMs,
        cosi: { fanout: options.fanout ?? DEFAULT_FANOUT, levelTimeoutMs: options.levelTimeoutMs ?? DEFAULT_LEVEL_TIMEOUT_MS },
        orderDelayMs: options.orderDelayMs ?? DEFAULT_ORDER_DELAY_MS,
        idleProposalMs: options.idleProposalMs ?? DEFAULT_IDLE_PROPOSAL_MS,
        minHeightIntervalMs: options.minHeightIntervalMs ?? DEFAULT_MIN_HEIGHT_INTERVAL_MS,
        baseHeight: this.#epochStart,
        // An opening instance leaves the epoch's last height to the epoch's own committee (it makes the boundary).
        ...(context.epochLength === undefined ? {} : { lastHeight: moving ? context.epochLength - 1 : context.epochLength }),
      },
      {
        channel: this.#consensusChannel, clock, rng: options.rng, keyPair: key, verifier,
        utxo: {
          get: (txid, index) => state.getUtxo(txid, index),
          // Spent in the final state: created by the genesis or a final transaction, and gone.
          spent: (txid, index) => !state.hasUtxo(txid, index) && (sameBytes(txid, context.chain) || state.getTransactionLocation(txid) !== undefined),
        },
        accounts, validator, members: this.members, peerOf: toHex, storedBlock: (hash) => state.orderedBlock(hash), keepBlocks: (blocks) => state.keepOrderedBlocks(blocks),
        owesService: (producer, ms) => this.#owes(producer, ms), onHeard: (producer) => this.#heardFrom(producer), atomix,
        ...(this.#log === undefined ? {} : { log: this.#log }),
        ...(rule === undefined ? {} : { swaps: rule }),
      },
    );
    if (rule !== undefined) {
      this.#swaps = rule;
      // A joiner's request: kept or refused with its code by the rule (counted there), never thrown to the transport.
      this.#consensusChannel.on(SWAP_REQUEST, (from, _type, payload) => void rule.offer(payload, from));
      // A shard resting at the forced end for the next configuration goes on the moment it is known here.
      if (!rule.configured) rule.onConfigured(() => this.node.swapsChanged());
    }
    this.node.onOutcome((outcome, record, proposal) => this.#commit(outcome, record, proposal));
    this.node.onDivergence((divergence) => this.#fail(new IosError<PobErrorCode>("POB_STATE_DIVERGED",
      `final height ${divergence.height}: this replica reaches state commitment ${divergence.reached === undefined ? "none" : toHex(divergence.reached)}, the shard decided ${toHex(divergence.decided)}`)));
    this.node.onAnnouncement((announcement) => this.#remember(announcement));
    this.node.onOrphaned((transactions) => this.#reoffer(transactions));
    this.#clientChannel.on(TX_RELAY, (from, _type, payload) => this.#receiveRelay(from, payload));
    this.#clientChannel.on(TX_REFUSED, (from, _type, payload) => this.#receiveRefusals(from, payload));
    this.#clientChannel.on(TX_FINAL_AHEAD, (_from, _type, payload) => this.#receiveFinalAhead(payload));
    this.#pipeline.onSettled((event) => this.#answerRelayers(event));
    this.atomix = options.watchAtomix === false ? undefined : new AtomixWatcher({
      self: key.publicKey, shard, context, transport, clock, verifier: atomix.verifier,
      phaseOf: (crossTxid) => state.atomix(crossTxid),
      submit: (tx) => this.#reoffer([tx]),
      holds: (txid) => this.#holds(txid),
      graceMs: options.atomixGraceMs ?? ATOMIX_GRACE_MS, retryMs: ATOMIX_RETRY_MS,
    });
  }

  get leagues(): Leagues {
    return this.node.leagues;
  }

  /** Joins the shard: re-applies logged records beyond the state, starts BFT and production. */
  start(): void {
    const log = this.#log;
    const tip = this.#state.tip.height;
    const bftTip = tip - this.#epochStart;
    if (log !== undefined && log.lastHeight > bftTip) {
      const records: FinalityRecord[] = [];
      for (let height = bftTip + 1; height <= log.lastHeight; height++) records.push(log.get(height)!);
      this.node.resumeRecords(records);
    }
    if (this.node.producer !== undefined) this.#unsubscribe = this.#pipeline.onAdmitted(() => this.#feedProducer());
    this.#scheduleRelaySweep();
    // Locks the final chain holds from before a restart are watched again, as are recent locks that settled X here.
    for (const x of this.#state.watchedTransfers(tip - SETTLED_REWATCH_HEIGHTS)) this.atomix?.watch(x, transactionIdOfEncoding(x));
    this.#takeFlushTurn();
    this.node.start();
  }

  /** The shard's replicas flush in turn (ShardState FlushTurn), in members' order; a committee member after a height it led. */
  #takeFlushTurn(): void {
    const index = this.members.findIndex((member) => sameBytes(member, this.#self));
    if (index < 0) return;
    const bft = this.node.bft;
    const leads = bft === undefined ? undefined : (height: number) => bft.leaderOf(height - this.#epochStart, 0) === bft.selfIndex;
    this.#state.setFlushTurn({ index, replicas: this.members.length, ...(leads === undefined ? {} : { leads }) });
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retire();
    this.node.close();
    this.#consensusChannel.close();
    this.#log?.close();
  }

  /**
   * The instance ended (an opening's end is final here): the driver takes no more work (no
   * production, relays, watchers or client channel; the pipeline's unsettled transactions go to
   * the next driver) but its BFT keeps serving the instance's records on its lane to members still
   * catching up to the end, until `stop`.
   */
  retire(): void {
    this.#retire();
  }

  #retire(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.atomix?.stop();
    this.#clientChannel.close();
    for (const timer of [this.#relayTimer, this.#relaySweep, this.#refusalTimer, this.#orphanTimer]) if (timer !== undefined) this.#clock.cancelTimer(timer);
  }

  /**
   * Where the API's submissions go: kept for the local producer, relayed to the assignee once
   * this validator's own checks (stateless, every signature) pass, or handed to the one-league
   * relay. A client thus gets a coded rejection here for anything malformed, misdirected or badly
   * signed, never "accepted" for a transaction that then vanishes.
   */
  async submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    const submission = this.#submit(transactions);
    this.#submissions.add(submission);
    try {
      return await submission;
    } finally {
      this.#submissions.delete(submission);
    }
  }

  async #submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    const leagues = this.leagues;
    if (leagues.mode === "one-league") {
      // The hold answers "accepted" without checks of its own: a bad signature or a final duplicate is refused here first.
      const checked = await this.#pipeline.verify(transactions);
      // A producer took its seat back meanwhile: the hold is closed to clients (POB_NOT_BELIEVABLE), their assignee takes them.
      if (this.leagues.mode !== "one-league") return this.#submit(transactions);
      return checked.map((result, i) => (result.outcome === "accepted" ? this.#offerOneLeague(transactions[i]!) : result));
    }
    const results = new Array<SubmitResult>(transactions.length);
    const local: Uint8Array[] = [];
    const localSlots: number[] = [];
    const relayed: { tx: Uint8Array; slot: number; peer: PeerId }[] = [];
    transactions.forEach((tx, i) => {
      const spender = spenderOf(tx);
      const target = spender === undefined ? this.#self : assignee(spender, leagues.believable);
      if (sameBytes(target, this.#self)) {
        local.push(tx);
        localSlots.push(i);
      } else {
        relayed.push({ tx, slot: i, peer: toHex(target) });
      }
    });
    const [verified, checked] = await Promise.all([
      local.length > 0 ? this.#pipeline.submit(local) : [],
      relayed.length > 0 ? this.#pipeline.verify(relayed.map((r) => r.tx)) : [],
    ]);
    verified.forEach((result, k) => (results[localSlots[k]!] = result));
    checked.forEach((result, k) => {
      const { tx, slot, peer } = relayed[k]!;
      results[slot] = result.outcome === "accepted" ? this.#relay(tx, peer, result.txid!) : result;
    });
    return results;
  }

  #offerOneLeague(tx: Uint8Array): SubmitResult {
    const offer = this.node.submit(tx);
    return offer.accepted ? { outcome: "accepted", txid: offer.txid } : { outcome: "rejected", code: offer.code, message: offer.message };
  }

  /**
   * Queues a checked `tx` for its assignee and follows it until answered: sealed (optimistic),
   * final, refused by the assignee (TX_REFUSED) or, after RELAY_ANSWER_MS, RELAY_UNANSWERED.
   */
  #relay(tx: Uint8Array, peer: PeerId, txid: Uint8Array): SubmitResult {
    if (this.#relayed.size >= MAX_RELAYED) {
      return { outcome: "rejected", txid, code: "RELAY_BACKLOG_FULL", message: `${this.#relayed.size} relayed transactions await their assignee's answer; retry later` };
    }
    const key = toHex(txid);
    this.#relayed.delete(key);
    this.#relayed.set(key, { peer, txid, tx, at: this.#clock.now() });
    let queue = this.#relayQueues.get(peer);
    if (queue === undefined) this.#relayQueues.set(peer, (queue = []));
    // Packed into the relay message at the flush; the API's frames are copies that outlive this call.
    queue.push(tx);
    if (queue.length >= RELAY_BATCH_TXS) this.#flushRelays();
    else this.#relayTimer ??= this.#clock.setTimer(1, () => this.#flushRelays());
    return { outcome: "accepted", txid };
  }

  /**
   * The transactions this validator relayed and accepted for its clients that are neither sealed,
   * final nor refused here, and the one-league transactions it holds: what the node hands to its next driver when this one stops (an epoch
   * switch, an opening's end). The assignee may be a validator still switching or syncing, which
   * drops relays until its driver runs, and this driver's RELAY_UNANSWERED sweep stops with it: left
   * here, such a transaction would be accepted and then lost without a word to its client. The node
   * pauses new submissions first; those under way get their answers before the list is read, so a
   * transaction still in the verifier when the switch began is here rather than relayed by a
   * stopped driver into a closed channel.
   */
  async acceptedUnsettled(): Promise<Uint8Array[]> {
    while (this.#submissions.size > 0) await Promise.allSettled([...this.#submissions]);
    const relayed = [...this.#relayed.values()].filter(({ txid }) => this.#awaitsAnswer(txid)).map(({ tx }) => tx);
    // A one-league shard's transactions wait in its members' holds until a leader orders them: a switch drops the hold with
    // the driver, so they go to the next driver too (it checks them again; one ordered meanwhile is a duplicate there).
    return [...relayed, ...this.node.heldTransactions()];
  }

  /** Whether a relayed transaction is still unanswered here: neither sealed, final nor refused. */
  #awaitsAnswer(txid: Uint8Array): boolean {
    const { state } = this.status(txid);
    return state !== "final" && state !== "optimistic" && state !== "rejected";
  }

  /**
   * Whether a transaction relayed to `peer` has waited more than `ms` unanswered (only overdue
   * entries are scanned: oldest first) though the producer could seal it. One already answered here
   * (sealed in a block this member saw before its relay went out, final, refused) waits in the list
   * for the sweep but owes nothing: an unlock has no input whose spending would show it.
   */
  #owes(peer: PeerId, ms: number): boolean {
    const cutoff = this.#clock.now() - ms;
    let checked = 0;
    for (const entry of this.#relayed.values()) {
      if (entry.at > cutoff) return false;
      if (entry.peer !== peer) continue;
      if (this.#awaitsAnswer(entry.txid) && this.#inputsExist(entry.tx, entry.txid)) return true;
      // Asked at every block and heartbeat: a client's flood of orphans costs a bounded look, and hides a
      // censored relay behind it only until the sweep settles them (RELAY_ANSWER_MS).
      if (++checked >= MAX_OWED_CHECKS) return false;
    }
    return false;
  }

  /**
   * Whether every input of a relayed transaction exists in this member's view: its final state or
   * a block it holds optimistically. Only then can its producer seal it; an orphan waits there for
   * its parent (up to ORPHAN_WAIT_MS) as it would here, so it proves no censorship. Without this, a
   * client sending one transaction with a missing input to every member had them all find an honest
   * producer silent after SERVICE_OVERDUE_MS and suspend it.
   */
  #inputsExist(tx: Uint8Array, txid: Uint8Array): boolean {
    const cursor = new RecordCursor(applyRecordOf(tx, txid, this.#instance.shard, this.#context.shardCount));
    for (let i = 0; i < cursor.inputCount; i++) {
      const parent = cursor.outpoint(i).subarray(0, TXID_BYTES);
      if (this.#state.getUtxo(parent, cursor.outpointIndex(i)) === undefined && !this.#optimistic.has(parent)) return false;
    }
    return true;
  }

  /**
   * The first sign of life from `producer` since this driver started: what was relayed to it before then went to a
   * validator maybe not running yet (switching epochs, syncing), which drops relays, so it is relayed again, counted
   * from now. Otherwise those relays looked unserved after SERVICE_OVERDUE_MS, this member took the producer for a
   * censor, and its suspension, which no other member vouched for, cost a view at every height it led (a 2 × 4
   * devnet stalled 6 s at an epoch whose producer moved in). Later relays are not sent twice.
   */
  #heardFrom(producer: PeerId): void {
    if (this.#heard.has(producer)) return;
    this.#heard.add(producer);
    const waiting = [...this.#relayed.values()].filter((entry) => entry.peer === producer);
    for (const { tx, txid } of waiting) this.#relay(tx, producer, txid);
  }

  /** Relayed transactions unanswered for RELAY_ANSWER_MS settle as RELAY_UNANSWERED (checked every second). */
  #scheduleRelaySweep(): void {
    this.#relaySweep = this.#clock.setTimer(1_000, () => {
      if (this.#stopped) return;
      const cutoff = this.#clock.now() - RELAY_ANSWER_MS;
      const unanswered: { txid: Uint8Array; code: string }[] = [];
      for (const [key, entry] of this.#relayed) {
        if (entry.at > cutoff) break;
        this.#relayed.delete(key);
        if (this.#awaitsAnswer(entry.txid)) unanswered.push({ txid: entry.txid, code: "RELAY_UNANSWERED" });
      }
      this.#pipeline.settleRejected(unanswered);
      this.#scheduleRelaySweep();
    });
  }

  /** Relayer side: the assignee's refusals of what this validator relayed to it (anything else is ignored). */
  #receiveRefusals(from: PeerId, payload: Uint8Array): void {
    if (this.#stopped) return;
    // Malformed refusals throw their code: the transport logs and counts them against the sender.
    const reader = new BinaryReader(payload, singleCode<PobErrorCode>("POB_BAD_MESSAGE"));
    const refusals = readCodedTxids(reader, reader.u32("refusal count"));
    reader.expectEnd();
    if (!refusals.every(({ code }) => REFUSAL_CODE.test(code))) throw new IosError<PobErrorCode>("POB_BAD_MESSAGE", "a refusal code must be an error code of this tree");
    const rejected = refusals.filter(({ txid }) => {
      const key = toHex(txid);
      if (this.#relayed.get(key)?.peer !== from) return false;
      this.#relayed.delete(key);
      return true;
    });
    this.#pipeline.settleRejected(rejected);
  }

  /** Assignee side: refusals of relayed transactions go back to every validator that relayed them; settled ones are forgotten. */
  #answerRelayers(event: BlockEvent): void {
    if (this.#relayers.size === 0) return;
    for (let at = 0; at < event.final.length; at += TXID_BYTES) this.#relayers.delete(toHex(event.final.subarray(at, at + TXID_BYTES)));
    for (const { txid, code } of event.rejected) {
      const key = toHex(txid);
      const relayers = this.#relayers.get(key);
      if (relayers === undefined) continue;
      this.#relayers.delete(key);
      for (const relayer of relayers) this.#refuseTo(relayer, txid, code);
    }
  }

  #refuseTo(peer: PeerId, txid: Uint8Array, code: string): void {
    let queue = this.#refusalQueues.get(peer);
    if (queue === undefined) this.#refusalQueues.set(peer, (queue = []));
    queue.push({ txid, code });
    this.#refusalTimer ??= this.#clock.setTimer(1, () => {
      this.#refusalTimer = undefined;
      for (const [to, refusals] of this.#refusalQueues) {
        const codes = codeBytesOf(refusals);
        this.#clientChannel.send(to, TX_REFUSED, writeCodedTxids(BinaryWriter.ofSize(4 + codedTxidsSize(codes)).u32(refusals.length), refusals, codes).finish());
      }
      this.#refusalQueues.clear();
    });
  }

  #flushRelays(): void {
    if (this.#relayTimer !== undefined) this.#clock.cancelTimer(this.#relayTimer);
    this.#relayTimer = undefined;
    for (const [peer, queue] of this.#relayQueues) if (queue.length > 0) this.#clientChannel.send(peer, TX_RELAY, packTransactions(queue));
    this.#relayQueues.clear();
  }

  /**
   * Relayed transactions: admitted when assigned here (one hop); each refusal — not assigned
   * here, failing the checks, or later refused by the producer — goes back to the relayer.
   */
  #receiveRelay(from: PeerId, payload: Uint8Array): void {
    if (this.#stopped) return;
    // Broken framing throws its code: the transport logs and counts it against the relaying peer.
    const transactions = unpackTransactions(payload);
    const leagues = this.leagues;
    if (leagues.mode === "one-league") {
      for (const tx of transactions) this.#offerOneLeague(tx);
      return;
    }
    const mine: Uint8Array[] = [];
    for (const tx of transactions) {
      const spender = spenderOf(tx);
      if (spender !== undefined && sameBytes(assignee(spender, leagues.believable), this.#self)) mine.push(tx);
      else {
        const txid = transactionIdIfWellFormed(tx);
        if (txid !== undefined) this.#refuseTo(from, txid, "POB_NOT_ASSIGNED");
      }
    }
    if (mine.length === 0) return;
    // Known before the pipeline answers: the producer may refuse a transaction as it is admitted.
    for (const tx of mine) {
      const txid = transactionIdIfWellFormed(tx);
      if (txid === undefined) continue;
      addPeerUnder(this.#relayers, toHex(txid), from, MAX_RELAYED);
    }
    // The pipeline copies what it admits: views into the message are enough.
    void this.#pipeline.submit(mine).then((results) => {
      let finalAt = -1;
      const sealed = new Map<string, Uint8Array>();
      for (const result of results) {
        if (result.txid === undefined) continue;
        const duplicate = result.outcome === "duplicate";
        // A duplicate of a pending copy keeps its relayer: that copy answers it, sealed, final or refused. If the copy is
        // sealed in a block held here, the relayer did not see that block. One of a final copy is answered by the height
        // (its final event has passed).
        const final = duplicate && result.status?.state === "final" ? result.status.height : undefined;
        if (duplicate && final === undefined) {
          const held = this.#optimistic.get(result.txid);
          if (held !== undefined) sealed.set(toHex(held.of.hash), held.of.hash);
        }
        if (result.outcome !== "rejected" && final === undefined) continue;
        if (final !== undefined) finalAt = Math.max(finalAt, final);
        const key = toHex(result.txid);
        const relayers = this.#relayers.get(key);
        const at = relayers?.indexOf(from) ?? -1;
        if (at < 0) continue;
        relayers!.splice(at, 1);
        if (relayers!.length === 0) this.#relayers.delete(key);
        if (final === undefined) this.#refuseTo(from, result.txid, result.code ?? "REJECTED");
      }
      if (this.#stopped) return;
      if (finalAt >= 0) this.#clientChannel.send(from, TX_FINAL_AHEAD, BinaryWriter.ofSize(8).u64(finalAt).finish());
      for (const [key, hash] of sealed) this.#resendSealed(from, key, hash);
    });
  }

  /**
   * Sends a relayer the held block that seals a transaction it relayed, once per block and relayer:
   * it missed the producer's broadcast (sent before its link was up, or dropped), so it took the
   * transaction for unserved, and a block no leader holds is never ordered. A relayer gets each
   * block at most once, so relaying a block's transactions again costs the producer nothing more.
   */
  #resendSealed(to: PeerId, key: string, hash: Uint8Array): void {
    // A block no longer held (ordered meanwhile) is not held later either: the relayer is counted all the same.
    if (addPeerUnder(this.#resent, key, to, MAX_RESENT_BLOCKS)) this.node.resendBlock(to, hash);
  }

  /** Relayer side: its assignee holds a relayed transaction final at a height; below it, this validator catches up. */
  #receiveFinalAhead(payload: Uint8Array): void {
    if (this.#stopped) return;
    // A malformed answer throws its code: the transport logs and counts it against the sender.
    const reader = new BinaryReader(payload, singleCode<PobErrorCode>("POB_BAD_MESSAGE"));
    const height = reader.u53("final height");
    reader.expectEnd();
    this.node.heardAhead(height);
  }

  /** Phase 1 intake: verified transactions leave the mempool for the producer's view checks. */
  #feedProducer(): void {
    const producer = this.node.producer;
    if (producer === undefined || this.#stopped) return;
    // A producer behind the final chain would check against a stale state: what it verified waits
    // in the mempool until the final heights it knows of are applied here (each commit feeds again).
    if (!this.node.caughtUp) return;
    const refused: { entry: MempoolEntry; code: string }[] = [];
    const now = this.#clock.now();
    // Orphans first: what they wait for may have come since.
    const waiting = [...this.#orphans.values()];
    this.#orphans.clear();
    for (const { entry, since } of waiting) this.#offer(producer, entry, since, now, refused);
    for (const entry of this.#pipeline.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) this.#offer(producer, entry, now, now, refused);
    this.#pipeline.refuse(refused);
    if (this.#orphans.size > 0) this.#orphanTimer ??= this.#clock.setTimer(ORPHAN_SWEEP_MS, () => {
      this.#orphanTimer = undefined;
      this.#feedProducer();
    });
  }

  /**
   * One view check: a transaction whose input is missing waits as an orphan, up to ORPHAN_WAIT_MS,
   * for the transaction creating it (a parent relayed late, or carried over an epoch switch),
   * re-offered at every admission, commit and sweep; anything else refused is refused at once, as
   * is a spend of an output the final chain created and spent (a double spend).
   */
  #offer(producer: OptimisticProducer, entry: MempoolEntry, since: number, now: number, refused: { entry: MempoolEntry; code: string }[]): void {
    const offer = producer.offerVerified(entry.tx, entry.txid, entry.record);
    if (offer.accepted) return;
    const orphan = offer.code === "MISSING_INPUT" && now - since < ORPHAN_WAIT_MS && this.#orphans.size < MAX_ORPHANS && !this.#spendsSpent(entry.record);
    if (orphan) this.#orphans.set(entry.key, { entry, since });
    else refused.push({ entry, code: offer.code });
  }

  /** Whether an input was created by the final chain and is gone: a double spend, which no parent in flight can mend. */
  #spendsSpent(record: Uint8Array): boolean {
    const cursor = new RecordCursor(record);
    const state = this.#state;
    for (let i = 0; i < cursor.inputCount; i++) {
      const txid = cursor.outpoint(i).subarray(0, TXID_BYTES);
      const index = cursor.outpointIndex(i);
      if (state.getUtxo(txid, index) === undefined && (sameBytes(txid, this.#context.chain) || state.getTransactionLocation(txid) !== undefined)) return true;
    }
    return false;
  }

  /**
   * Transactions of blocks no final block can order any more (onOrphaned): no longer optimistic
   * here, offered again as a client's would be — relayed to their new assignee, or to the one
   * league — so each ends final or rejected with a code on every validator.
   */
  #reoffer(transactions: readonly Uint8Array[]): void {
    for (const tx of transactions) {
      const txid = transactionIdIfWellFormed(tx);
      if (txid !== undefined) this.#optimistic.forget(txid);
    }
    if (!this.#stopped) this.submit(transactions).catch((error: unknown) => this.#fail(error));
  }

  #remember({ hash, txids, block }: OptimisticAnnouncement): void {
    // Relayed transactions are answered by their optimistic block; the relayed list is hex-keyed (in send order), so it is asked only when it holds any.
    this.#optimistic.remember(hash, block, txids, this.#relayed.size === 0 ? undefined : (txid) => this.#relayed.delete(toHex(txid)));
  }

  /** Every optimistic block this validator holds with a valid seal. */
  /**
   * The epoch's boundary, once its last height is final here: that height's final-height
   * certificate and the epoch's validator changes with their proofs (src/epoch/transition, which
   * the node hands them to). Undefined before, and always without an epoch length.
   */
  get boundary(): Boundary | undefined {
    return this.#boundary;
  }

  /** The consensus instance this driver decides in. */
  get instance(): ConsensusInstance {
    return this.#instance;
  }

  /** Sends a joiner's SWAP_REQUEST (this validator's own) to `peers` on this driver's lane: a producer of the shard joining its committee. */
  sendSwapRequest(peers: readonly PeerId[], request: Uint8Array): void {
    this.#consensusChannel.broadcast(peers, SWAP_REQUEST, request);
  }

  /** Whether this validator decides in its instance's BFT committee (the normal league), not only learns its records. */
  get inCommittee(): boolean {
    return this.node.bft !== undefined;
  }

  /** The height this driver's instance ended at (an opening instance's end), once final here. */
  get instanceEnd(): number | undefined {
    return this.#instanceEnd;
  }

  /** Calls `listener` with the height once the instance ends here (a final proposal carrying a swap-in, module doc). */
  onInstanceEnd(listener: (height: number) => void): () => void {
    this.#instanceEndListeners.add(listener);
    return () => this.#instanceEndListeners.delete(listener);
  }

  /** Calls `listener` with the boundary when the epoch's last height becomes final here. */
  onBoundary(listener: (boundary: Boundary) => void): () => void {
    this.#boundaryListeners.add(listener);
    return () => this.#boundaryListeners.delete(listener);
  }

  onAtomix(listener: (batch: AtomixBatch) => void): () => void {
    this.#atomixListeners.add(listener);
    return () => this.#atomixListeners.delete(listener);
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    const unsubscribe = this.node.onAnnouncement(({ txids, block }) => listener(optimisticBatchOf(block, txids)));
    return () => void unsubscribe();
  }

  /** Pending, final and rejected from the pipeline; "optimistic" while an optimistic block holds it and it is not yet final. */
  status(txid: Uint8Array): TxStatus {
    const status = this.#pipeline.status(txid);
    if (status.state !== "pending" && status.state !== "unknown") return status;
    const optimistic = this.#optimistic.get(txid);
    if (optimistic !== undefined) {
      const { of: { hash, block }, index } = optimistic;
      return { state: "optimistic", block: hash, producer: block.header.producer, inclusion: encodeInclusion(makeInclusion(block, index)) };
    }
    // Relayed here and not answered yet (pending until sealed, final, refused or RELAY_UNANSWERED), or held for a one-league leader.
    return this.#relayed.has(toHex(txid)) || this.node.holdsTransaction(txid) ? { state: "pending" } : status;
  }

  /**
   * Whether the shard holds `txid` (pending, optimistic or final): `status`'s state without the
   * inclusion proof it builds for an optimistic transaction (a Merkle tree of its block), which
   * the watchers asking about every unlock they hand over do not need.
   */
  #holds(txid: Uint8Array): boolean {
    const { state } = this.#pipeline.status(txid);
    if (state !== "unknown") return HELD_STATES.has(state);
    return this.#optimistic.has(txid) || this.#relayed.has(toHex(txid)) || this.node.holdsTransaction(txid);
  }

  onConfirmations(listener: (event: BlockEvent) => void): () => void {
    return this.#pipeline.onSettled(listener);
  }

  metrics(): MetricFamily[] {
    const bft = this.node.bft;
    const refused: MetricFamily[] = this.#swaps === undefined ? [] : [{
      name: "ios_transepoch_swap_requests_refused_total", help: "Joiners' swap requests this opening or batch driver refused, by code", type: "counter",
      samples: [...this.#swaps.refused].map(([code, value]) => ({ labels: { code }, value })),
    }];
    const overdue: MetricFamily = {
      name: "ios_pob_overdue_service_total", help: "Signs of life from a producer not counted: a transaction this validator relayed to it was overdue", type: "counter",
      samples: [{ value: this.node.stats.overdueService }],
    };
    if (bft === undefined) return [overdue, ...refused];
    return [
      overdue,
      { name: "ios_consensus_view", help: "BFT view at the height being decided", type: "gauge", samples: [{ value: bft.view }] },
      { name: "ios_consensus_view_changes_total", help: "BFT views entered after view 0", type: "counter", samples: [{ value: bft.stats.viewChanges }] },
      {
        name: "ios_pob_proposals_refused_total", help: "Proposals this member refused to co-sign, by reason", type: "counter",
        samples: [...this.node.stats.refused].map(([reason, value]) => ({ labels: { reason }, value })),
      },
      ...refused,
    ];
  }

  /** For GET /v1/status. */
  describe(): Record<string, unknown> {
    const leagues = this.leagues;
    return {
      mode: "pob",
      leagueMode: leagues.mode,
      believable: leagues.believable.map(toHex),
      normal: leagues.normal.map(toHex),
      samplingProbability: leagues.policy.samplingProbability,
      height: this.node.validator.height,
      role: leagues.isBelievable(this.#self) ? "believable" : "normal",
      ...(this.node.bft === undefined ? {} : { view: this.node.bft.view, viewChanges: this.node.bft.stats.viewChanges, refused: Object.fromEntries(this.node.stats.refused) }),
    };
  }

  /**
   * PobValidator's `msbAt`: at the epoch's last height, the MSB of the UTXO set as the execution
   * left it (the table holds the height's writes; the final block after it is the next epoch's)
   * and of the phases after it (the stored phases, the earlier heights', and the height's own
   * `decisions`), kept until the height commits; undefined at every other height.
   */
  #msbAt(height: number, decisions: readonly AtomixDecision[]): Uint8Array | undefined {
    const context = this.#context;
    if (context.epochLength === undefined || height !== context.startHeight + context.epochLength) return undefined;
    const state = this.#state;
    const built = buildMsb({
      chain: state.chainId, shard: state.shard, height, epochLength: context.epochLength, entries: state.utxoSnapshot(),
      phases: state.atomixPhases(), phaseWrites: decisions.map(({ crossTxid, phase }) => ({ crossTxid, phase: encodeAtomixPhase(phase) })),
      headerOf: (epoch) => state.msbHeader(epoch),
    });
    this.#builtMsb = { ...built, height };
    this.#msbBuildMs = built.buildMs;
    return built.hash;
  }

  /** The last MSB build's wall time here (ms; 0 before any). */
  get msbBuildMs(): number {
    return this.#msbBuildMs;
  }

  /** Phase 2 persistence: the outcome's final block, in one LMDB transaction, then the client events. */
  #commit(outcome: FinalOutcome, record: FinalityRecord, proposal: FinalProposal): void {
    if (this.#failed) return;
    const state = this.#state;
    try {
      invariant(outcome.height === state.tip.height + 1, "a final outcome extends the stored chain by one block");
      const transactions = outcome.includedTransactions;
      const consensusState = encodeReplicaRecord(outcome.record);
      // Bodies kept before this member co-signed are on disk already.
      const orderedBlocks = proposal.blocks.filter((hash) => !this.node.blockKept(hash)).map((hash) => {
        const bytes = this.node.blockBytes(hash);
        invariant(bytes !== undefined, "a replica holds every block of the proposal it applies");
        return { hash, bytes };
      });
      let prover: FinalHeightProver | undefined;
      const proverOf = (): FinalHeightProver => (prover ??= new FinalHeightProver({
        epoch: proposal.epoch, shard: state.shard, batch: this.#instance.batch, record, committeeSize: this.node.validator.leagues.committee.length,
        commitment: outcome.commitmentParts, included: outcome.included, excluded: outcome.excluded,
      }));
      const atomix = this.#atomixWrites(outcome);
      const changeProofs = this.#changeProofs(outcome, proverOf);
      const msb = this.#msbOf(outcome);
      const assembly = this.#assembly ?? state.assemble();
      this.#assembly = undefined;
      const committed = assembly.commit((slot) => {
        invariant(sameBytes(slot.prevHash, outcome.commitmentParts.previousBlock), "the final block links to the block its commitment names");
        const fields = { kind: BlockKind.Final, shard: state.shard, epoch: proposal.epoch, height: slot.height, prevHash: slot.prevHash, timestamp: outcome.timestamp, producer: proposal.proposer };
        // The certified commitment's roots of the included txids and transactions are the final block's own: it hashes neither again.
        const { includedRoot: txRoot, bodyRoot } = outcome.commitmentParts;
        const header = makeBlockHeader(fields, transactions, undefined, { txRoot, bodyRoot });
        const bytes = encodeBlock(header, { kind: "collective", participants: record.commitCert.mask, signature: record.commitCert.signature }, transactions);
        return { bytes, hash: blockHash(header), txids: outcome.included, consensusState, orderedBlocks, rejections: outcome.excluded, atomix, changeProofs, certificate: proverOf().certificate(), proposal: record.proposal, ...(msb === undefined ? {} : { msb }) };
      });
      // Per transaction on every replica: the optimistic index by bytes; the relayed list (hex) only when it holds any.
      for (let at = 0; at < outcome.included.length; at += TXID_BYTES) {
        const txid = outcome.included.subarray(at, at + TXID_BYTES);
        this.#optimistic.forget(txid);
        if (this.#relayed.size > 0) this.#relayed.delete(toHex(txid));
      }
      const rejected = outcome.excluded.map((e) => ({ txid: e.txid, code: e.code }));
      for (const { txid } of rejected) {
        this.#optimistic.forget(txid);
        if (this.#relayed.size > 0) this.#relayed.delete(toHex(txid));
      }
      this.#pipeline.settle({ height: committed.height, hash: committed.hash, final: outcome.included, rejected });
      this.#noteEpoch(changeProofs, committed.height, proverOf);
      // A lock is watched until it is consumed or released; a lock that settled X here, until its other shards committed.
      for (const decision of outcome.atomix) {
        if (decision.phase !== "refused" && isLockDecision(decision)) this.atomix?.watch(outcome.includedTransactions[includedPosition(outcome, decision)]!, decision.txid, decision.phase === "committed");
      }
      // The unlocks-to-commit applied here, told to their transfers' other input shards (src/atomix/watcher.ts, notice).
      this.atomix?.noticeCommitted(outcome.atomix, outcome.includedTransactions);
      if (atomix.length > 0 && this.#atomixListeners.size > 0) {
        // Cut only if a listener reads them (the API server, when a stream subscribed): a validator nobody streams from cuts no path.
        // The height's certificate once, each lock decision's verdict and path: no proof is assembled.
        let certificate: Uint8Array | undefined;
        let decisions: AtomixBatch["decisions"] | undefined;
        const batch: AtomixBatch = {
          height: committed.height,
          get certificate() {
            return (certificate ??= atomix.some((write) => write.decided === true) ? proverOf().certificate() : NONE);
          },
          get decisions() {
            return (decisions ??= outcome.atomix.map((decision, i) => {
              const { phase, decided } = atomix[i]!;
              return { txid: decision.crossTxid, phase, ...(decided === true ? lockDecisionPath(outcome, decision, proverOf()) : { code: "", path: NONE }) };
            }));
          },
        };
        for (const listener of this.#atomixListeners) listener(batch);
      }
      if (proposal.swapIn !== undefined) {
        this.#instanceEnd = committed.height;
        for (const listener of this.#instanceEndListeners) listener(committed.height);
      }
      if (this.node.producer !== undefined) this.#feedProducer();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The MSB a final outcome binds (its commitment's MSB header hash), as this replica built it in `execute`; undefined for other heights. */
  #msbOf(outcome: FinalOutcome): StoredMsb | undefined {
    const bound = outcome.commitmentParts.msbHeaderHash;
    if (sameBytes(bound, NO_MSB)) return undefined;
    const built = this.#builtMsb;
    this.#builtMsb = undefined;
    invariant(built !== undefined && built.height === outcome.height && sameBytes(built.hash, bound), "the MSB a final height binds is the one its execution built here");
    return { epoch: built.header.epoch, header: built.encoded, body: built.body, decisions: built.decisions };
  }

  /** The registrations and leaves a height applied, each with its acceptance proof: stored with the block, carried by the epoch's boundary. */
  #changeProofs(outcome: FinalOutcome, proverOf: () => FinalHeightProver): ProvenTransaction[] {
    const proofs: ProvenTransaction[] = [];
    outcome.includedTransactions.forEach((tx, index) => {
      if (tx[TX_PREFIX.offset.kind] !== TxKind.ValidatorRegistration) return;
      proofs.push({ txid: outcome.included.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES), tx, proof: proverOf().acceptance(index) });
    });
    return proofs;
  }

  /** After a committed height: keeps its validator changes, and at the epoch's last height makes the boundary. */
  #noteEpoch(changeProofs: readonly ProvenTransaction[], height: number, proverOf: () => FinalHeightProver): void {
    const context = this.#context;
    if (context.epochLength === undefined) return;
    for (const { tx, proof } of changeProofs) this.#epochChanges.push({ tx, proof });
    if (height !== context.startHeight + context.epochLength) return;
    // The accounts after the height, which its certificate's accounts hash commits to.
    const boundary: Boundary = { certificate: proverOf().certificate(), accounts: this.node.validator.accounts.snapshot(), changes: [...this.#epochChanges] };
    this.#boundary = boundary;
    for (const listener of this.#boundaryListeners) listener(boundary);
  }

  /** The phases this height moved, each lock decision marked (its proof is built when read: src/atomix/stored-proofs.ts), for the block's transaction. */
  #atomixWrites(outcome: FinalOutcome): AtomixWrite[] {
    return outcome.atomix.map((decision) => ({ crossTxid: decision.crossTxid, phase: encodeAtomixPhase(decision.phase), decided: isLockDecision(decision), fresh: decision.fresh === true }));
  }

  /** Stops the driver for good and reports why (the node keeps serving what is stored). */
  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    void this.stop();
    this.#onError(error);
  }
}

/** The verdict and encoded Merkle path of a lock decision of this height (src/atomix/proof.ts), for the stream's ATOMIX frames. */
function lockDecisionPath(outcome: FinalOutcome, decision: AtomixDecision, prover: FinalHeightProver): { readonly code: string; readonly path: Uint8Array } {
  if (decision.phase !== "refused") return { code: "", path: prover.acceptancePath(includedPosition(outcome, decision)) };
  const index = outcome.excluded.findIndex((entry) => sameBytes(entry.txid, decision.txid) && DECISIVE_CODES.has(entry.code));
  invariant(index >= 0, "a refused lock is excluded with the kernel's code");
  return { code: outcome.excluded[index]!.code, path: prover.rejectionPath(index) };
}

/** Where an applied decision's transaction is among the outcome's included ones (AtomixDecision.position). */
function includedPosition(outcome: FinalOutcome, decision: AtomixDecision): number {
  const { position } = decision;
  invariant(position !== undefined && sameBytes(outcome.included.subarray(position * TXID_BYTES, (position + 1) * TXID_BYTES), decision.txid), "an applied decision names its transaction's place among the included");
  return position;
}

/**
 * Adds `peer` to the peers kept under `key` (false if it was there already) in a map of at most
 * `maxKeys` keys, the oldest key going first. Each list holds distinct authenticated peers, so it
 * stays as short as the validator set.
 */
function addPeerUnder(map: Map<string, PeerId[]>, key: string, peer: PeerId, maxKeys: number): boolean {
  const peers = map.get(key);
  if (peers !== undefined) {
    if (peers.includes(peer)) return false;
    peers.push(peer);
    return true;
  }
  if (map.size >= maxKeys) map.delete(map.keys().next().value!);
  map.set(key, [peer]);
  return true;
}
