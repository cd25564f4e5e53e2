/**
 * Phase 1 of Proof-of-Believability (white paper §7.2): a believable validator takes the
 * transactions assigned to it (assignment.ts), validates each fully against its view — structure,
 * shard, every signature, and state: inputs exist in the last final state or among its own
 * pending outputs, are owned by the signer, are not already spent by one of its pending
 * transactions, and Σin ≥ Σout — and at the policy interval seals a small optimistic block
 * (ledger block kind Optimistic, producer seal). Each transaction in it gets an optimistic
 * confirmation: the signed header and the transaction's inclusion proof (evidence.ts), which a
 * client verifies with the producer's key alone.
 *
 * The producer's view = final state (read-only, updated by phase 2) + an overlay of what its
 * own not-yet-final transactions spend and create; `finalized(hash)` drops a block's overlay
 * once the final state reflects it. The view of one producer does not see the others' pending
 * blocks, so a double spend split across two producers is caught only in phase 2 (the first in
 * final order wins).
 *
 * API: class `OptimisticProducer` (offer, offerVerified, isAssigned, produce, finalized, sealedHere, setLeague, pending),
 * `buildOptimisticBlock(fields, transactions, producer, txids?)` (seal and encode, no validation).
 */
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { BlockKind, blockHash, encodeBlockWithBody, makeBlockHeader, sealOptimistic, txRootOf, txidsOf, type BlockHeaderFields, type DecodedBlock } from "../../ledger/block.js";
import { merkleRootAndLeafHashes } from "../../crypto/merkle.js";
import type { LedgerErrorCode } from "../../ledger/errors.js";
import type { KeyPair } from "../../ledger/keys.js";
import { packTransactions, validateStateless } from "../../ledger/stateless.js";
import { RecordCursor } from "../../ledger/records.js";
import type { DecisionVerifier } from "../../ledger/kinds/interface.js";
import { admits, crossTxidsOfRecord, isAtomixKind, type AtomixPhases } from "../../atomix/phases.js";
import { assignee, spenderOf } from "./assignment.js";
import type { PobErrorCode } from "./errors.js";
import { makeInclusion, type SignedInclusion } from "./evidence.js";
import { validatePolicy, type ShardingPolicy } from "./policy.js";
import { toHex } from "../../hex.js";
import { ByteKeyMap } from "../../ledger/byte-key-map.js";
import { HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { check } from "../../errors.js";

/** Read access to the final UTXO state (a `UtxoTable` satisfies it). */
export interface UtxoView {
  get(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined;
  /**
   * Whether output (txid, index) is known spent in the final state: its transaction is final (or
   * the genesis) and the output is gone. Optional: without it nothing is known spent.
   */
  spent?(txid: Uint8Array, index: number): boolean;
}

/** Stateful rejection codes of the optimistic view (same names as the UTXO table's statuses). */
export type ViewRejection = "MISSING_INPUT" | "OWNER_MISMATCH" | "INSUFFICIENT_FUNDS";

export type OfferResult =
  | { readonly accepted: true; readonly txid: Uint8Array }
  | { readonly accepted: false; readonly code: LedgerErrorCode | PobErrorCode | ViewRejection; readonly message: string };

export interface OptimisticConfirmation extends SignedInclusion {
  readonly txid: Uint8Array;
}

export interface OptimisticBlock {
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  readonly block: DecodedBlock;
  readonly confirmations: readonly OptimisticConfirmation[];
}

export interface OptimisticProducerOptions {
  readonly keyPair: KeyPair;
  readonly shard: number;
  readonly shardCount: number;
  readonly epoch: number;
  readonly policy: ShardingPolicy;
  /** The believable league the assignment is computed over. */
  readonly league: readonly Uint8Array[];
  readonly state: UtxoView;
  readonly verifier?: Ed25519Verifier;
  /** Cross-shard transactions: the proofs' verifier and the final chain's phases (finalization.ts PobValidatorOptions `atomix`). */
  readonly atomix?: { readonly verifier: DecisionVerifier; readonly phases: AtomixPhases };
  /** Called when a transaction joins an empty queue: the sealing loop sleeps while there is nothing to seal. */
  readonly onQueued?: () => void;
}

const NOT_ASSIGNED: OfferResult = { accepted: false, code: "POB_NOT_ASSIGNED", message: "the transaction is assigned to another believable validator" };
const ZERO_HASH = new Uint8Array(HASH_BYTES);

/**
 * Seals and encodes an optimistic block of `transactions` as is (no validation), returning it with
 * its decoded form built from the parts, not by decoding (and hashing) the bytes again. `txids`
 * (packed, body order), when the caller holds them, spares hashing the transactions at all.
 */
export function buildOptimisticBlock(
  fields: Omit<BlockHeaderFields, "kind" | "producer">,
  transactions: readonly Uint8Array[],
  producer: KeyPair,
  txids: Uint8Array = txidsOf(transactions),
): { bytes: Uint8Array; block: DecodedBlock } {
  // The body root's leaf hashes stay with the block, as a decoded one keeps them: its final block hashes none again.
  const { root: bodyRoot, leafHashes } = merkleRootAndLeafHashes(transactions);
  const header = makeBlockHeader({ ...fields, kind: BlockKind.Optimistic, producer: producer.publicKey }, transactions, undefined, { txRoot: txRootOf(txids), bodyRoot });
  const seal = sealOptimistic(header, producer);
  const { bytes, body } = encodeBlockWithBody(header, seal, transactions);
  const block: DecodedBlock = { header, seal, hash: blockHash(header), body, transactions: [...transactions], txids, leafHashes };
  return { bytes, block };
}

/**
 * A queued or sealed transaction with the overlay entries it holds: the outpoints it spends (the
 * `spent` map points each at this object) and the outputs it creates. Its identity is its tag:
 * releasing it removes exactly the entries still pointing at it, so sealing a block rewrites no
 * entry and a later holder of the same key (a transaction offered again) is never released by it.
 */
interface QueuedTransaction {
  readonly tx: Uint8Array;
  readonly txid: Uint8Array;
  readonly spends: readonly Uint8Array[];
  readonly creates: readonly PendingOutput[];
}

interface PendingOutput {
  /** Its outpoint, txid ‖ u32le index. */
  readonly key: Uint8Array;
  readonly owner: Uint8Array;
  readonly amount: bigint;
}

export class OptimisticProducer {
  private readonly options: OptimisticProducerOptions;
  private readonly verifier: Ed25519Verifier;
  private league: readonly Uint8Array[];
  private readonly queue: QueuedTransaction[] = [];
  /** Outpoint → the pending transaction spending it. */
  private readonly spent = new ByteKeyMap<QueuedTransaction>();
  /** Outpoint → a pending transaction's output. */
  private readonly created = new ByteKeyMap<PendingOutput>();
  /** The transactions of each sealed, not yet finalized block (hex hash): what `finalized` releases. */
  private readonly sealedBlocks = new Map<string, readonly QueuedTransaction[]>();
  private height = 0;
  private previous: Uint8Array = ZERO_HASH;

  constructor(options: OptimisticProducerOptions) {
    validatePolicy(options.policy);
    check<PobErrorCode>(options.league.some((v) => Buffer.compare(v, options.keyPair.publicKey) === 0), "POB_NOT_BELIEVABLE",
      "the producer is not in the believable league it was given");
    this.options = options;
    this.verifier = options.verifier ?? new Ed25519Verifier();
    this.league = options.league;
  }

  get publicKey(): Uint8Array {
    return this.options.keyPair.publicKey;
  }

  /** Transactions accepted and not yet sealed into a block. */
  get pending(): number {
    return this.queue.length;
  }

  /** The league after a slashing: assignments of the remaining members do not move (rendezvous hashing). */
  setLeague(league: readonly Uint8Array[]): void {
    this.league = league;
  }

  /** Validates `tx` fully (structure, shard, assignment, signatures, view) and queues it for the next block. */
  offer(tx: Uint8Array): OfferResult {
    const { shard, shardCount } = this.options;
    const checked = validateStateless(packTransactions([tx]), shard, shardCount, "submitted", this.options.atomix?.verifier);
    const rejection = checked.rejections[0];
    if (rejection !== null && rejection !== undefined) return { accepted: false, code: rejection.code, message: rejection.message };
    const txid = checked.txids.slice(0, TXID_BYTES);
    // Assignment before the signatures: a misrouted transaction costs no verification.
    if (!this.isAssigned(tx)) return NOT_ASSIGNED;
    const bad = this.verifier.verifyBatch(checked.signatures).indexOf(false);
    if (bad >= 0) return { accepted: false, code: "POB_BAD_SIGNATURE", message: `signature of input ${bad} is invalid` };
    return this.viewCheck(Uint8Array.from(tx), txid, checked.records);
  }

  /** Whether this producer is the transaction's assignee (by its spender, assignment.ts). */
  isAssigned(tx: Uint8Array): boolean {
    const spender = spenderOf(tx);
    return spender !== undefined && Buffer.compare(assignee(spender, this.league), this.publicKey) === 0;
  }

  /**
   * The view checks of a transaction whose structure, shard and signatures the caller already
   * verified (the validator's worker pool): assignment, inputs against the final state and the
   * pending overlay, ownership and Σin ≥ Σout; queues it when they pass. `record` must be this
   * transaction's apply record (stateless.ts layout, as the verifier produced it); `tx` is kept
   * as given (not copied).
   */
  offerVerified(tx: Uint8Array, txid: Uint8Array, record: Uint8Array): OfferResult {
    return this.isAssigned(tx) ? this.viewCheck(tx, txid, record) : NOT_ASSIGNED;
  }

  private viewCheck(tx: Uint8Array, txid: Uint8Array, records: Uint8Array): OfferResult {
    const record = new RecordCursor(records);
    const { kind } = record;
    if (!isAtomixKind(kind)) return this.reserve(tx, txid, record);
    const phases = this.options.atomix?.phases;
    if (!crossTxidsOfRecord(kind, record.bytes).every((crossTxid) => admits(kind, phases?.phaseOf(crossTxid)))) {
      return { accepted: false, code: "TX_ATOMIX_DECIDED", message: "this shard has decided the cross-shard transaction already" };
    }
    // A lock or unlock this view refuses is sealed all the same, reserving nothing: only a final
    // block's refusal decides it, and proves it to the other shards (src/atomix/phases.ts).
    const result = this.reserve(tx, txid, record);
    if (!result.accepted) this.enqueue({ tx, txid, spends: [], creates: [] });
    return { accepted: true, txid };
  }

  /** Every queued transaction enters here: the first one into an empty queue wakes the sealing loop. */
  private enqueue(queued: QueuedTransaction): void {
    this.queue.push(queued);
    if (this.queue.length === 1) this.options.onQueued?.();
  }

  /** The view checks of one record (the `viewCheck` doc); queues the transaction with its reservations when they pass. */
  private reserve(tx: Uint8Array, txid: Uint8Array, record: RecordCursor): OfferResult {
    let totalIn = 0n;
    const spends: Uint8Array[] = [];
    for (let i = 0; i < record.inputCount; i++) {
      const outpoint = record.outpoint(i);
      if (this.spent.has(outpoint)) return { accepted: false, code: "POB_DOUBLE_SPEND_PENDING", message: `input ${i} is spent by a pending transaction` };
      const pending = this.created.get(outpoint);
      const entry = pending ?? this.options.state.get(outpoint.subarray(0, TXID_BYTES), record.outpointIndex(i));
      if (entry === undefined) return { accepted: false, code: "MISSING_INPUT", message: `input ${i} does not exist or is spent` };
      if (Buffer.compare(entry.owner, record.inputOwner(i)) !== 0) {
        return { accepted: false, code: "OWNER_MISMATCH", message: `input ${i} is owned by another key` };
      }
      totalIn += entry.amount;
      spends.push(outpoint);
    }
    let totalOut = 0n;
    for (let j = 0; j < record.outputCount; j++) totalOut += record.outputAmount(j);
    // An Atomix commit creates in an output shard what other shards' locks hold: the kernel checks it across shards.
    if (record.balanced && totalIn < totalOut) return { accepted: false, code: "INSUFFICIENT_FUNDS", message: `inputs ${totalIn} < outputs ${totalOut}` };
    // Views into the record (the worker's answer or `offer`'s own result), which nothing rewrites.
    const creates: PendingOutput[] = [];
    for (let j = 0; j < record.outputCount; j++) creates.push({ key: record.createdKey(j), owner: record.outputOwner(j), amount: record.outputAmount(j) });
    const queued: QueuedTransaction = { tx, txid, spends, creates };
    for (const outpoint of spends) this.spent.set(outpoint, queued);
    for (const output of creates) this.created.set(output.key, output);
    this.enqueue(queued);
    return { accepted: true, txid };
  }

  /**
   * Seals up to `maxOptimisticBlockTxs` queued transactions into the next optimistic block, or
   * returns undefined when nothing is queued. `timestamp` is ms since the Unix epoch.
   */
  produce(timestamp: number): OptimisticBlock | undefined {
    if (this.queue.length === 0) return undefined;
    const { shard, epoch, policy, keyPair } = this.options;
    const sealed = this.queue.splice(0, policy.maxOptimisticBlockTxs);
    const transactions = sealed.map((entry) => entry.tx);
    const txids = new Uint8Array(sealed.length * TXID_BYTES);
    sealed.forEach((entry, i) => txids.set(entry.txid, i * TXID_BYTES));
    const { bytes, block } = buildOptimisticBlock({ shard, epoch, height: this.height, prevHash: this.previous, timestamp }, transactions, keyPair, txids);
    this.height += 1;
    this.previous = block.hash;
    // The overlay entries stay as they are: each points at its transaction, which `finalized` releases.
    this.sealedBlocks.set(toHex(block.hash), sealed);
    // A Merkle proof per transaction costs a tree walk each: built only if someone reads them.
    let confirmations: OptimisticConfirmation[] | undefined;
    return {
      bytes,
      hash: block.hash,
      block,
      get confirmations(): readonly OptimisticConfirmation[] {
        confirmations ??= Array.from({ length: block.header.txCount }, (_, i) => ({ ...makeInclusion(block, i), txid: block.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES) }));
        return confirmations;
      },
    };
  }

  /**
   * Whether this producer sealed block `hash` and it is not final yet: every signature in it was
   * verified here before it was queued (`offer`, or the caller before `offerVerified`).
   */
  sealedHere(hash: Uint8Array): boolean {
    return this.sealedBlocks.has(toHex(hash));
  }

  /** Removes and returns the queued, unsealed transactions (a producer leaving the league hands them on). */
  drain(): Uint8Array[] {
    const queued = this.queue.splice(0);
    for (const entry of queued) this.release(entry);
    return queued.map((entry) => entry.tx);
  }

  /** Phase 2 finalized (or rejected) block `hash`: the final state now decides its transactions. */
  finalized(hash: Uint8Array): void {
    const tag = toHex(hash);
    const sealed = this.sealedBlocks.get(tag);
    if (sealed === undefined) return;
    this.sealedBlocks.delete(tag);
    for (const entry of sealed) this.release(entry);
  }

  /** Drops the overlay entries `entry` still holds (none another transaction holds now). */
  private release(entry: QueuedTransaction): void {
    for (const outpoint of entry.spends) this.spent.deleteIf(outpoint, entry);
    for (const output of entry.creates) this.created.deleteIf(output.key, output);
  }
}
