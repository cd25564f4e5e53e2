/**
 * Phase 2 of Proof-of-Believability on one validator (white paper §7.2; DESIGN.md §4): apply a
 * final proposal decided by the normal league to this validator's replica of the shard state.
 *
 * Execution, then commitment. `execute(core, bodies, randomness)` computes the outcome of a
 * proposal core and writes its transactions to the UTXO set in ONE `applyBlock` (undoable), while
 * the believability accounts, leagues and history stay untouched; the returned `Execution` is
 * then committed (the proposal became final) or aborted (a speculative execution of a proposal
 * that did not: the UTXO writes are undone). The normal league executes a proposal before
 * co-signing it and compares the state commitment the leader put in it (protocol.ts), so every
 * final proposal commits to the post-state of its height.
 *
 *   two-league, per optimistic block in final order (screening, no UTXO access):
 *     1. context: the body is available, decodes strictly, is of this shard and epoch, its
 *        timestamp lies within [proposal − MAX_OPTIMISTIC_AGE_MS, proposal + MAX_CLOCK_SKEW_MS],
 *        it was not ordered before, its producer is believable now (not slashed) and its seal verifies;
 *        otherwise the whole block is rejected with its code, and (but for a duplicate) each of its
 *        transactions excluded with that code;
 *     2. stateless checks of each transaction (structure, shard) and assignment to the producer;
 *     3. sampling (sampling.ts): each transaction's signatures are re-verified with probability
 *        p from the final randomness (randomness.ts), which exists only after the producer signed;
 *     4. a sampled invalid signature: the transaction is excluded, evidence (evidence.ts) is
 *        built and verified as any validator would, the producer is slashed (out of the
 *        believable league — possibly engaging the one-league fallback — and, at commit, stake,
 *        reputation and Servi zeroed), every other transaction of its blocks in this proposal is
 *        verified in full (those found invalid are excluded before anything is applied) and
 *        every earlier block of the producer in this epoch is re-checked in full (read back from
 *        the final chain): the owners whose inputs its forgeries spent are its victims;
 *   then 5. full state check (the UTXO table: existence, owner, double spends, conservation) of
 *        every kept transaction in final order, all or nothing per transaction: a double spend
 *        across two producers loses in final order; last, one slashing transaction per offender
 *        (slashing.ts): its bond spent, its victims paid, the rest burned — in the same write.
 *   one-league (fallback): every signature of the leader's transactions is verified, then 5.
 *   In 5, before the kernel, a bond release (src/ledger/kinds/registration.ts) must pass the
 *   epoch rule against the context's departures (`departureOf`; `releaseRefusal`'s TX_RELEASE_*
 *   codes), as the slashing reads the context's `bondOf`.
 *   then the proposal's suspensions and resumptions change the believable seats (leagues.ts) for
 *   the heights after it (§7.2 temporary downtime; possibly engaging or leaving the fallback).
 *   afterwards (at commit): producers of accepted blocks validated a block → their Servi is
 *   cleared and their reputation grows; every normal-league member verified a non-empty final
 *   block → Servi is issued (in one-league mode the proposing leader validated it → its Servi is
 *   cleared).
 *
 * State commitment (the outcome's `tip`): SHA-256(domain v6 ‖ the parts' encoding), the parts
 * (`writeCommitmentParts`, the one encoder, also what proofs carry): previous tip ‖ core hash ‖
 * randomness ‖ Merkle root of the included txids ‖ u32 their count ‖ body root of the included
 * transactions ‖ Merkle root of the excluded (txid, code) list ‖ u32 its count ‖ u64 supply ‖ u64
 * UTXO count ‖ accounts hash ‖ MSB header hash ‖ previous block hash. It chains from the genesis state every replica
 * starts from, so equal tips mean the same included and excluded sets at every height and the
 * same resulting UTXO supply and size.
 * The body root (ledger/block.ts `bodyRootOf`: RFC 6962 over the included transactions' full
 * encodings, signatures and unlock proofs included, in final order) is the final block's header
 * body root: txids leave out what authorizes a transaction, so without it a certificate names a
 * height's decisions but not the bytes of its block, and a state-sync source could serve a block
 * whose signatures or proofs are re-encoded (ZIP-215 admits a non-canonical R) under the same
 * certificate. Every member computes it from what it executed before co-signing; the final block
 * reuses it (`makeBlockHeader`'s `bodyRoot`) instead of hashing the body again.
 * The previous block hash (`PobValidatorOptions.previousBlock`: the replica's final block of the
 * height before, the genesis block's at height 1) is the final block's header `prevHash`: with it
 * and the body root every header field is certified, so a block synced without its predecessor
 * (an MSB join's anchor) is the shard's byte for byte.
 * The MSB header hash (white paper §8, Algorithm 6) is all zero but at an epoch's last height,
 * where it is `msbHeaderHash` of the Micro State Block of the UTXO set after the height
 * (`PobValidatorOptions.msbAt`, src/node/msb.ts): every normal-league member executes before it
 * co-signs, so the final-height certificate of the epoch's last height certifies the MSB header.
 * The accounts hash (believability.ts `accountsHash`) binds the believability accounts after the
 * height — stake, Servi, reputation and exclusion of every member — so the final-height
 * certificate of an epoch's last height proves the accounts the next epoch carries over
 * (src/epoch/transition). `execute` computes them on a copy of the accounts (the commit's own
 * changes, `settleAccounts`), since the proposal carries the commitment before it is final.
 *
 * Re-check of earlier blocks that are already final: invalid transactions found there are
 * reported (`rechecked`, alreadyFinal); the state they changed stays (their outputs may be spent
 * long since), and their victims are compensated from the offender's bond instead.
 *
 * Restart: every commit yields the replica's record (replica-state.ts), stored with the final
 * block; `resume` rebuilds accounts, leagues, the re-check history and the duplicate window from
 * the epoch's records, so a restarted replica decides as one that never stopped.
 *
 * Every step is a deterministic function of the proposal core, the block bodies, the final
 * randomness and the replica, so all honest validators reach the same outcome.
 *
 * API: class `PobValidator` (checkProposal, execute → Execution {commitment, commit, abort},
 * applyFinal, beginEpoch, resume, continueFrom, leagues, accounts, tip, height, previousProposal); `FinalChain`.
 */
import { Ed25519Verifier, type SignatureItem } from "../../crypto/ed25519.js";
import { merkleLeafHash, merkleRoot, merkleRootOfLeafHashes, merkleRootOfPackedLeaves } from "../../crypto/merkle.js";
import { sha256 } from "../../crypto/sha256.js";
import { BinaryWriter, type BinaryReader } from "../../codec/binary.js";
import { codedTxidLeaf } from "../../codec/coded-txids.js";
import { BlockKind, decodeBlock, type DecodedBlock } from "../../ledger/block.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode } from "../../ledger/errors.js";
import { RecordCursor, recordsWhereAll } from "../../ledger/records.js";
import { TxKind, type DecisionVerifier } from "../../ledger/kinds/interface.js";
import { recordLockSettles } from "../../ledger/kinds/atomix-record.js";
import { admits, crossTxidsOfRecord, isAtomixKind, phaseAfter, type AtomixDecision, type AtomixPhase, type AtomixPhases, type AtomixRecordKind } from "../../atomix/phases.js";
import { packTransactions, signatureItemsOf, validateStateless, type StatelessResult } from "../../ledger/stateless.js";
import { applyRecordOf, transactionIdOfEncoding } from "../../ledger/kinds/registry.js";
import { bondOwner, type Bond } from "../../ledger/bond.js";
import { releaseOfRecord } from "../../ledger/kinds/registration.js";
import type { Departure } from "../../epoch/interface.js";
import { sameBytes } from "../../bytes.js";
import { makeSlashing, type Compensation, type Loss } from "./slashing.js";
import type { OrderedBlock, ReplicaRecord } from "./replica-state.js";
import { APPLY_STATUS_NAMES, ApplyStatus } from "../../ledger/utxo-table.js";
import { invariant, check, hasCodeIn } from "../../errors.js";
import { assignee, spenderOf } from "./assignment.js";
import { accountsHash, type BelievabilityLedger, type SlashRecord } from "./believability.js";
import type { PobErrorCode } from "./errors.js";
import { makeEvidence, verifyEvidence, type Evidence } from "./evidence.js";
import type { Leagues, LeagueMode } from "./leagues.js";
import { decodeProposal, encodeProposal, proposalCoreHash, proposalHash, type FinalProposal, type ProposalCore } from "./proposal.js";
import { Sampler, sampleSeed } from "./sampling.js";
import { toHex } from "../../hex.js";
import { ByteKeyMap } from "../../ledger/byte-key-map.js";
import { COMMITMENT_PARTS_BYTES, HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";

const COMMITMENT_DOMAIN = new TextEncoder().encode("IOSChain/pob/state-commitment/v6");
/** The parts' encoding (`writeCommitmentParts`), defined in codec/sizes.ts (the Atomix citations in a block body need it below the consensus layer). */
export { COMMITMENT_PARTS_BYTES };
/**
 * How far the clocks of honest validators may disagree: a member co-signs a proposal only if its
 * timestamp is within this of its own clock, and an optimistic block may be at most this far
 * ahead of the proposal that orders it.
 */
export const MAX_CLOCK_SKEW_MS = 10_000;
/**
 * An optimistic block older than this when a proposal orders it is stale. Long view changes stay
 * inside it (the BFT's view timeout doubles up to 32 × its base, about a minute by default), and
 * it bounds the duplicate check: a block this old can only be stale, so its hash is forgotten.
 */
export const MAX_OPTIMISTIC_AGE_MS = 2 * 60_000;
const ZERO_HASH = new Uint8Array(HASH_BYTES);

export type ExclusionCode = LedgerErrorCode | PobErrorCode | (typeof APPLY_STATUS_NAMES)[number];

export interface ExcludedTransaction {
  readonly txid: Uint8Array;
  readonly code: ExclusionCode;
  /** Optimistic block it came in (two-league mode). */
  readonly block?: Uint8Array;
}

export interface BlockVerdict {
  readonly hash: Uint8Array;
  readonly producer?: Uint8Array;
  /** Undefined when the block was ordered; otherwise why it was rejected whole. */
  readonly rejected?: PobErrorCode;
  readonly included: number;
  readonly sampled: number;
}

export interface RecheckFinding {
  readonly producer: Uint8Array;
  readonly block: Uint8Array;
  readonly txid: Uint8Array;
  /** Final height at which the block was ordered. */
  readonly finalHeight: number;
  /** Always true: the block was final before the evidence; its effects stay (no rollback). */
  readonly alreadyFinal: true;
}

export interface FinalOutcome {
  readonly height: number;
  readonly mode: LeagueMode;
  /** Hash of the decided proposal (core, shares and state commitment). */
  readonly proposalHash: Uint8Array;
  /** Included txids in final order, packed 32 bytes each. */
  readonly included: Uint8Array;
  /** The included transactions' encodings, in the same order: the final block's body. */
  readonly includedTransactions: readonly Uint8Array[];
  /** The proposal's timestamp: the final block's. */
  readonly timestamp: number;
  readonly excluded: readonly ExcludedTransaction[];
  readonly blocks: readonly BlockVerdict[];
  readonly evidence: readonly Evidence[];
  readonly slashed: readonly SlashRecord[];
  /** The slashing transactions this height wrote (last in its final block), in `slashed` order. */
  readonly slashings: readonly SlashingFact[];
  readonly rechecked: readonly RecheckFinding[];
  /** Signatures verified by this validator for this proposal. */
  readonly verifiedSignatures: number;
  /** The state commitment after this height (module doc): the new tip. */
  readonly tip: Uint8Array;
  /** The cross-shard transactions this height decided (src/atomix/phases.ts), in final order. */
  readonly atomix: readonly AtomixDecision[];
  /** The tip's preimage: what a proof that this height decided a transaction carries (src/atomix/proof.ts). */
  readonly commitmentParts: CommitmentParts;
  /** What the replica stores with the final block to resume from it (replica-state.ts). */
  readonly record: ReplicaRecord;
}

/** What a state commitment hashes (module doc), in its order. */
export interface CommitmentParts {
  /** The previous height's commitment (the genesis state's at height 1). */
  readonly previous: Uint8Array;
  readonly coreHash: Uint8Array;
  readonly randomness: Uint8Array;
  /** RFC 6962 root over the included txids, in final order, and their number (a proof's path names its tree's size). */
  readonly includedRoot: Uint8Array;
  readonly includedCount: number;
  /** RFC 6962 root over the included transactions' full encodings, in final order: the final block's header body root (module doc). */
  readonly bodyRoot: Uint8Array;
  /** RFC 6962 root over the excluded coded txids, in final order (`excludedRoot`), and their number. */
  readonly excludedRoot: Uint8Array;
  readonly excludedCount: number;
  /** The UTXO set's total amount and entry count after the height. */
  readonly supply: bigint;
  readonly count: bigint;
  /** `accountsHash` of the believability accounts after the height (believability.ts). */
  readonly accountsHash: Uint8Array;
  /** `msbHeaderHash` of the MSB after the height at an epoch's last height (module doc); all zero elsewhere. */
  readonly msbHeaderHash: Uint8Array;
  /** The hash of the final block of the height before: the final block's `prevHash` (module doc); all zero without `PobValidatorOptions.previousBlock`. */
  readonly previousBlock: Uint8Array;
}

/** The MSB header hash of every height but an epoch's last. */
export const NO_MSB = new Uint8Array(HASH_BYTES);

/** Writes the parts in their order (module doc): the one encoding the commitment hashes and proofs carry. */
export function writeCommitmentParts(writer: BinaryWriter, parts: CommitmentParts): BinaryWriter {
  return writer.bytes(parts.previous).bytes(parts.coreHash).bytes(parts.randomness)
    .bytes(parts.includedRoot).u32(parts.includedCount).bytes(parts.bodyRoot).bytes(parts.excludedRoot).u32(parts.excludedCount)
    .u64(parts.supply).u64(parts.count).bytes(parts.accountsHash).bytes(parts.msbHeaderHash).bytes(parts.previousBlock);
}

/** Strict inverse of `writeCommitmentParts` at the reader's position; `take` reads a hash (a view or a copy). */
export function readCommitmentParts<Code extends string>(reader: BinaryReader<Code>, take: (length: number, what: string) => Uint8Array): CommitmentParts {
  const hash = (what: string) => take(HASH_BYTES, what);
  return {
    previous: hash("previous commitment"), coreHash: hash("core hash"), randomness: hash("randomness"),
    includedRoot: hash("included root"), includedCount: reader.u32("included count"), bodyRoot: hash("body root"), excludedRoot: hash("excluded root"), excludedCount: reader.u32("excluded count"),
    supply: reader.u64("supply"), count: reader.u64("count"), accountsHash: hash("accounts hash"), msbHeaderHash: hash("MSB header hash"),
    previousBlock: hash("previous block hash"),
  };
}

/** The state commitment of its parts (module doc). */
export function stateCommitmentOf(parts: CommitmentParts): Uint8Array {
  return sha256(writeCommitmentParts(BinaryWriter.ofSize(COMMITMENT_DOMAIN.length + COMMITMENT_PARTS_BYTES).bytes(COMMITMENT_DOMAIN), parts).finish());
}

export interface SlashingFact {
  readonly offender: Uint8Array;
  readonly txid: Uint8Array;
  readonly transaction: Uint8Array;
  readonly compensation: Compensation;
}

/** The final chain as this replica holds it: what the re-check and the compensation read. */
export interface FinalChain {
  /** The transactions of final height `height` (at most the replica's height), in final order. */
  transactions(height: number): readonly Uint8Array[];
  /** Output `index` of `txid`, created by the genesis or a final transaction, spent or not; undefined if none. */
  createdOutput(txid: Uint8Array, index: number): { readonly owner: Uint8Array; readonly amount: bigint } | undefined;
}

/**
 * Where a validator's final state changes (a `UtxoTable` in the simulator; in a validator process
 * the shard state's block assembly, which makes the final block durable at commit).
 */
export interface FinalStateWriter {
  /** Applies packed apply records, all or nothing per record; one ApplyStatus per record. */
  applyBlock(records: Uint8Array, count: number): { readonly statuses: Uint8Array };
  /** Reverts the last `applyBlock` exactly (an execution aborted before it became final). */
  undoLastBlock(): void;
  /** The UTXO set's total amount and entry count, as of the last call. */
  readonly supply: bigint;
  readonly count: number;
}

export interface PobValidatorOptions {
  /**
   * The epoch of the consensus instance the final proposals are decided in (every proposal names
   * it; heights keep their epoch, ⌊(h − 1)/L⌋). Default: the leagues' epoch. An epoch's opening
   * instance (TransEpoch batch 0, `EpochContext.opening`) decides epoch e + 1's heights with epoch
   * e's leagues and accounts.
   */
  readonly epoch?: number;
  readonly shard: number;
  readonly shardCount: number;
  readonly utxo: FinalStateWriter;
  readonly accounts: BelievabilityLedger;
  readonly leagues: Leagues;
  readonly chain: FinalChain;
  /** A validator's bond (the epoch context's `bondOf`). */
  readonly bondOf: (publicKey: Uint8Array) => Bond | undefined;
  /**
   * The departure whose bond is at an outpoint (the epoch context's `departureOf`): what a bond
   * release is checked against (`releaseRefusal`). Absent: no bond awaits release, every release is refused.
   */
  readonly departureOf?: (bond: Uint8Array) => Departure | undefined;
  readonly verifier?: Ed25519Verifier;
  /**
   * Whether this replica's own producer sealed block `hash` (optimistic.ts `sealedHere`): it did
   * so after verifying every signature in it (`offer`, or the worker pool before
   * `offerVerified`), so step 3 counts that block's sampled signatures as verified instead of
   * verifying them a second time. By hash, not by key: a block made elsewhere under this
   * validator's key (a stolen key, a stand-in) is verified like any other.
   */
  readonly sealedHere?: (hash: Uint8Array) => boolean;
  /**
   * Cross-shard transactions (white paper §6): the proofs' verifier and the phases this shard's
   * final chain reached (src/atomix/phases.ts). Absent: every Atomix kind is refused
   * (TX_ATOMIX_UNSUPPORTED).
   */
  readonly atomix?: { readonly verifier: DecisionVerifier; readonly phases: AtomixPhases };
  /**
   * Micro State Blocks (module doc): called by `execute` after the height's writes, with the
   * height and the Atomix decisions it made (in order; the phase table holds the earlier heights');
   * at an epoch's last height it returns `msbHeaderHash` of the MSB of the UTXO set as it is now
   * (the post-state) and of the phases after the height, elsewhere undefined. Absent: no height
   * binds an MSB.
   */
  readonly msbAt?: (height: number, decisions: readonly AtomixDecision[]) => Uint8Array | undefined;
  /**
   * The hash of the final block of `height` − 1 as this replica stores it (the genesis block's for
   * height 1): what the commitment binds as the final block's `prevHash` (module doc). Absent (a
   * replica without a block store): all zero.
   */
  readonly previousBlock?: (height: number) => Uint8Array;
}

/** A proposal core executed on the replica, not yet final: commit it once decided, or abort it. */
export interface Execution {
  readonly height: number;
  /** The state commitment it reaches (the outcome's tip), what the proposal must carry. */
  readonly commitment: Uint8Array;
  /** Makes the execution the replica's: accounts, leagues, history and height move on. */
  commit(proposalHash: Uint8Array): FinalOutcome;
  /** Undoes its UTXO writes; the replica is as before `execute`. */
  abort(): void;
}

/** An optimistic block that passed its context checks, with its per-record verdicts so far. */
/** An Atomix record the decided-once rule admitted; `settles`: a lock that is also X's commit here. */
interface AdmittedAtomix {
  readonly kind: AtomixRecordKind;
  /** The transfers it decides: one, or a batch's. */
  readonly crossTxids: readonly Uint8Array[];
  /** Per transfer: the store held no phase of it when this height looked it up (AtomixDecision `fresh`). */
  readonly fresh: readonly boolean[];
  readonly txid: Uint8Array;
  readonly settles: boolean;
}

interface Screened {
  /** Its place among the proposal's block verdicts. */
  readonly verdict: number;
  readonly hash: Uint8Array;
  readonly block: DecodedBlock;
  readonly producer: Uint8Array;
  readonly checked: StatelessResult;
  readonly items: RecordItems;
  /** Per record: still to be applied. */
  readonly keep: boolean[];
  /** Per record: signatures verified (sampled, or in full after a slashing). */
  readonly verified: boolean[];
}

/** Step 3's verdicts of one block verified ahead: record index → all its signatures valid (sampled records only). */
type SampleVerdicts = ReadonlyMap<number, boolean>;

/** Signature items of record k (the items of its transaction), from a stateless result. */
function itemsByRecord(result: StatelessResult): SignatureItem[][] {
  const byTx = new Map<number, SignatureItem[]>();
  result.signatures.forEach((item, i) => {
    const tx = result.signatureTx[i]!;
    let list = byTx.get(tx);
    if (list === undefined) byTx.set(tx, (list = []));
    list.push(item);
  });
  return Array.from(result.recordTx, (tx) => byTx.get(tx) ?? []);
}

function txidOf(checked: StatelessResult, record: number): Uint8Array {
  const tx = checked.recordTx[record]!;
  return checked.txids.slice(tx * TXID_BYTES, (tx + 1) * TXID_BYTES);
}

/**
 * The signature items of a held block's records, each built when first asked for (`signatureItemsOf`):
 * phase 2 verifies a sample, so most records of a normal member's blocks never need theirs.
 */
class RecordItems {
  readonly #block: DecodedBlock;
  readonly #checked: StatelessResult;
  readonly #built: (SignatureItem[] | undefined)[] = [];

  constructor(block: DecodedBlock, checked: StatelessResult) {
    this.#block = block;
    this.#checked = checked;
  }

  /** Records of the block (its transactions that passed the stateless checks). */
  get count(): number {
    return this.#checked.recordCount;
  }

  /** Record k's items: one per signature of its transaction. */
  at(k: number): SignatureItem[] {
    const built = this.#built[k];
    if (built !== undefined) return built;
    const items = signatureItemsOf(this.#block.transactions[this.#checked.recordTx[k]!]!, txidViewOf(this.#checked, k));
    this.#built[k] = items;
    return items;
  }
}

/** `txidOf` as a view, for a look that keeps nothing (the sampling decision). */
function txidViewOf(checked: StatelessResult, record: number): Uint8Array {
  const tx = checked.recordTx[record]!;
  return checked.txids.subarray(tx * TXID_BYTES, (tx + 1) * TXID_BYTES);
}

/** RFC 6962 Merkle root over the excluded list, one coded txid (src/codec/coded-txids.ts) per leaf, in order. */
export function excludedRoot(excluded: readonly ExcludedTransaction[]): Uint8Array {
  return merkleRoot(excluded.map(codedTxidLeaf));
}

export class PobValidator {
  private readonly options: PobValidatorOptions;
  private readonly verifier: Ed25519Verifier;
  private currentLeagues: Leagues;
  private currentHeight = 0;
  private lastProposal: Uint8Array = ZERO_HASH;
  private lastTimestamp = 0;
  private currentTip: Uint8Array = ZERO_HASH;
  /** Optimistic blocks ordered this epoch, by producer (hex), for the re-check after a slashing. */
  private readonly history = new Map<string, OrderedBlock[]>();
  /** Optimistic blocks ordered within MAX_OPTIMISTIC_AGE_MS of the last proposal: hash (hex) → block timestamp. */
  private readonly ordered = new Map<string, number>();
  /** The execution neither committed nor aborted yet (at most one). */
  private open: Execution | undefined;
  /** Stateless checks of held optimistic blocks, once per block (`statelessOf`). */
  private readonly checkedBlocks = new WeakMap<DecodedBlock, StatelessResult>();
  /** Their signature items by record, built as asked (`itemsOf`): sampling ahead and screening share them. */
  private readonly recordItems = new WeakMap<DecodedBlock, RecordItems>();

  constructor(options: PobValidatorOptions) {
    check<PobErrorCode>(options.leagues.epoch === options.accounts.epoch, "POB_BAD_ARGUMENT",
      `leagues of epoch ${options.leagues.epoch} do not match accounts at epoch ${options.accounts.epoch}`);
    this.options = options;
    this.verifier = options.verifier ?? new Ed25519Verifier();
    this.currentLeagues = options.leagues;
  }

  get leagues(): Leagues {
    return this.currentLeagues;
  }

  /** The epoch every final proposal of this replica's instance names (PobValidatorOptions `epoch`). */
  get proposalEpoch(): number {
    return this.options.epoch ?? this.currentLeagues.epoch;
  }

  /**
   * The stateless checks of an optimistic block's body in this shard (step 2), computed once per
   * decoded block: its announcement to clients and its screening in phase 2 share them. They
   * depend on the body and this replica's fixed shard, shard count and proof verifier only.
   */
  statelessOf(block: DecodedBlock): StatelessResult {
    let checked = this.checkedBlocks.get(block);
    if (checked === undefined) {
      // The block's txids were computed from its body when it was decoded (or built): hashed once.
      // No signature items: the records' own are built when sampled (`itemsOf`).
      checked = validateStateless(block.body, this.options.shard, this.options.shardCount, "submitted", this.options.atomix?.verifier, block.txids, "none");
      this.checkedBlocks.set(block, checked);
    }
    return checked;
  }

  /** The signature items of a held block's records (`statelessOf`'s), built as asked. */
  private itemsOf(block: DecodedBlock): RecordItems {
    let items = this.recordItems.get(block);
    if (items === undefined) this.recordItems.set(block, (items = new RecordItems(block, this.statelessOf(block))));
    return items;
  }

  /** The believability accounts this replica keeps. */
  get accounts(): BelievabilityLedger {
    return this.options.accounts;
  }

  /** Final proposals applied so far. */
  get height(): number {
    return this.currentHeight;
  }

  /** The state commitment after the last final proposal. */
  get tip(): Uint8Array {
    return this.currentTip;
  }

  /** Hash of the last applied proposal: the `prevHash` of the next one. */
  get previousProposal(): Uint8Array {
    return this.lastProposal;
  }

  /** The timestamp of the last final proposal this validator applied (0 before any). */
  get previousTimestamp(): number {
    return this.lastTimestamp;
  }

  /** The execution awaiting its decision, if any. */
  get pending(): Execution | undefined {
    return this.open;
  }

  /**
   * Continues a replica whose state already reflects `height` final proposals, the last with
   * `timestamp` (a validator process reopening its store): `records` are the replica records the
   * epoch's final heights stored, ascending, the last one the tip's. Accounts, leagues, the
   * re-check history and the duplicate window come back as they were.
   */
  resume(height: number, timestamp: number, records: readonly { readonly height: number; readonly record: ReplicaRecord }[]): void {
    check<PobErrorCode>(this.currentHeight === 0 && Number.isSafeInteger(height) && height >= 0, "POB_BAD_ARGUMENT", "resume applies to a fresh validator, at a height ≥ 0");
    const last = records.at(-1);
    check<PobErrorCode>(last !== undefined && last.height === height, "POB_BAD_ARGUMENT", `the records must end at height ${height}`);
    const { accounts } = this.options;
    accounts.restore(last.record.accounts);
    let leagues = this.currentLeagues;
    for (const account of last.record.accounts) if (account.excluded) leagues = leagues.withoutValidator(account.publicKey);
    for (const key of last.record.suspended) leagues = leagues.suspend(key);
    this.currentLeagues = leagues;
    for (const { height: finalHeight, record } of records) {
      for (const block of record.ordered) {
        if (block.timestamp >= timestamp - MAX_OPTIMISTIC_AGE_MS) this.ordered.set(toHex(block.hash), block.timestamp);
        if (block.recheck && !accounts.isExcluded(block.producer)) this.remember({ ...block, finalHeight });
      }
    }
    this.currentHeight = height;
    this.lastProposal = Uint8Array.from(last.record.proposalHash);
    this.currentTip = Uint8Array.from(last.record.tip);
    this.lastTimestamp = timestamp;
  }

  /**
   * Starts the epoch of a fresh validator whose state already reflects `height` final proposals
   * of earlier epochs (the epoch's start height): its first proposal follows `previous.proposalHash`
   * and chains its commitment from `previous.tip`. Accounts and leagues are the epoch's own and
   * nothing else carries over: an optimistic block of another epoch never passes screening.
   */
  continueFrom(height: number, timestamp: number, previous: { readonly proposalHash: Uint8Array; readonly tip: Uint8Array }): void {
    check<PobErrorCode>(this.currentHeight === 0 && Number.isSafeInteger(height) && height > 0, "POB_BAD_ARGUMENT", "an epoch continues a fresh validator, after height ≥ 1");
    check<PobErrorCode>(previous.proposalHash.length === HASH_BYTES && previous.tip.length === HASH_BYTES, "POB_BAD_ARGUMENT", `a proposal hash and a tip are ${HASH_BYTES} bytes`);
    this.currentHeight = height;
    this.lastProposal = Uint8Array.from(previous.proposalHash);
    this.currentTip = Uint8Array.from(previous.tip);
    this.lastTimestamp = timestamp;
  }

  private remember(block: OrderedBlock): void {
    const key = toHex(block.producer);
    const list = this.history.get(key) ?? [];
    list.push(block);
    this.history.set(key, list);
  }

  /**
   * New epoch with freshly drawn leagues (after `accounts.beginEpoch`): the believable league
   * changes, slashing exclusions and the re-check history end.
   */
  beginEpoch(leagues: Leagues): void {
    check<PobErrorCode>(leagues.epoch === this.options.accounts.epoch && leagues.epoch > this.currentLeagues.epoch, "POB_BAD_ARGUMENT",
      `leagues of epoch ${leagues.epoch} do not follow epoch ${this.currentLeagues.epoch} (accounts at ${this.options.accounts.epoch})`);
    check<PobErrorCode>(this.open === undefined, "POB_BAD_ARGUMENT", "an execution is still open");
    this.currentLeagues = leagues;
    this.history.clear();
    this.ordered.clear();
  }

  /** The context checks a BFT `validate` runs on an encoded proposal; throws POB_BAD_PROPOSAL. */
  checkProposal(encoded: Uint8Array): FinalProposal {
    const proposal = decodeProposal(encoded);
    this.checkContext(proposal);
    return proposal;
  }

  private checkContext(proposal: ProposalCore): void {
    check<PobErrorCode>(proposal.height === this.currentHeight + 1, "POB_BAD_PROPOSAL", `height ${proposal.height} is not ${this.currentHeight + 1}`);
    check<PobErrorCode>(Buffer.compare(proposal.prevHash, this.lastProposal) === 0, "POB_BAD_PROPOSAL", "prevHash is not the last final proposal");
    check<PobErrorCode>(proposal.epoch === this.proposalEpoch, "POB_BAD_PROPOSAL", `epoch ${proposal.epoch} is not the instance's ${this.proposalEpoch}`);
    check<PobErrorCode>(proposal.mode === this.currentLeagues.mode, "POB_BAD_PROPOSAL", `mode ${proposal.mode} while the shard runs ${this.currentLeagues.mode}`);
    check<PobErrorCode>(this.currentLeagues.committee.some((v) => Buffer.compare(v, proposal.proposer) === 0), "POB_BAD_PROPOSAL",
      "the proposer is not a member of the epoch's committee");
  }

  /**
   * Executes a proposal core on the replica. `bodyOf(hash)` gives an optimistic block's bytes, or
   * the block already decoded from them (`decodeBlock`, so it is not hashed again), or undefined
   * if this validator never received it; `finalRandomness` (32 bytes) was fixed after the blocks
   * were signed (randomness.ts); `coreHash` when the caller has it already. Throws
   * POB_BAD_PROPOSAL out of context, POB_BAD_ARGUMENT while another execution is open.
   */
  execute(core: ProposalCore, bodyOf: (hash: Uint8Array) => Uint8Array | DecodedBlock | undefined, finalRandomness: Uint8Array, coreHash = proposalCoreHash(core)): Execution {
    check<PobErrorCode>(this.open === undefined, "POB_BAD_ARGUMENT", "another execution is still open: commit or abort it first");
    this.checkContext(core);
    check<PobErrorCode>(finalRandomness.length === HASH_BYTES, "POB_BAD_SEED", `final randomness must be ${HASH_BYTES} bytes`);
    const work = new Work(this.currentLeagues);
    const height = core.height;
    if (core.mode === "two-league") {
      const screened: Screened[] = [];
      const samples = this.verifySamples(core.blocks, bodyOf, finalRandomness, work.leagues);
      for (const blockHash of core.blocks) {
        const block = this.screen(blockHash, bodyOf(blockHash), core.timestamp, finalRandomness, work, screened, samples);
        if (block !== undefined) screened.push(block);
      }
      this.applyScreened(screened, this.slashings(work, height), work);
    } else {
      this.applyOneLeague(core.transactions, work);
    }
    // Seats change after the height's blocks: a producer found down still gets its last blocks ordered.
    for (const key of core.suspend) work.leagues = work.leagues.suspend(key);
    for (const key of core.resume) work.leagues = work.leagues.resume(key);
    const included = work.includedTxids();
    const { utxo } = this.options;
    const parts: CommitmentParts = {
      previous: this.currentTip, coreHash, randomness: finalRandomness,
      includedRoot: merkleRootOfPackedLeaves(included, TXID_BYTES), includedCount: work.includedCount, bodyRoot: work.bodyRoot(),
      excludedRoot: excludedRoot(work.excluded), excludedCount: work.excluded.length,
      supply: utxo.supply, count: BigInt(utxo.count),
      accountsHash: accountsHash(this.settleAccounts(this.options.accounts.copy(), core, work).snapshot()),
      msbHeaderHash: this.options.msbAt?.(height, work.atomix) ?? NO_MSB,
      previousBlock: this.options.previousBlock?.(height) ?? ZERO_HASH,
    };
    const commitment = stateCommitmentOf(parts);
    const execution: Execution = {
      height,
      commitment,
      commit: (hash) => {
        check<PobErrorCode>(this.open === execution, "POB_BAD_ARGUMENT", "this execution is no longer open");
        this.open = undefined;
        return this.commit(core, work, included, parts, commitment, hash);
      },
      abort: () => {
        check<PobErrorCode>(this.open === execution, "POB_BAD_ARGUMENT", "this execution is no longer open");
        this.open = undefined;
        if (work.applied) utxo.undoLastBlock();
      },
    };
    this.open = execution;
    return execution;
  }

  /**
   * Executes and commits a decided proposal core in one step: the decided proposal is the core
   * with no shares and the reached commitment (tests and single-leader finalizers).
   */
  applyFinal(core: ProposalCore, bodyOf: (hash: Uint8Array) => Uint8Array | DecodedBlock | undefined, finalRandomness: Uint8Array): FinalOutcome {
    const execution = this.execute(core, bodyOf, finalRandomness);
    return execution.commit(proposalHash(encodeProposal({ ...core, shares: [], stateCommitment: execution.commitment })));
  }

  /**
   * What a height does to the believability accounts (module doc, "afterwards"): its offenders
   * slashed, its producers' Servi cleared and reputation raised, Servi issued to the normal
   * league. Applied to a copy by `execute` (the commitment) and to the replica's by `commit`.
   */
  private settleAccounts(accounts: BelievabilityLedger, core: ProposalCore, work: Work): BelievabilityLedger {
    for (const record of work.slashed) accounts.slash(record.publicKey);
    for (const producer of work.producers) {
      if (accounts.isExcluded(producer)) continue;
      accounts.clearServi(producer);
      accounts.rewardReputation(producer);
    }
    // An empty final block is no contribution: Servi is issued only for verifying actual content.
    if (core.blocks.length + core.transactions.length > 0) {
      // A TransEpoch joiner leading a batch instance (src/epoch/transepoch/batch-leagues.ts) has no account in the epoch's ledger: nothing to clear.
      if (core.mode === "one-league" && accounts.has(core.proposer)) accounts.clearServi(core.proposer);
      for (const member of this.currentLeagues.normal) {
        if (core.mode === "one-league" && Buffer.compare(member, core.proposer) === 0) continue;
        if (!accounts.isExcluded(member)) accounts.issueServi(member);
      }
    }
    return accounts;
  }

  private commit(core: ProposalCore, work: Work, included: Uint8Array, commitmentParts: CommitmentParts, tip: Uint8Array, hash: Uint8Array): FinalOutcome {
    const accounts = this.settleAccounts(this.options.accounts, core, work);
    invariant(sameBytes(accountsHash(accounts.snapshot()), commitmentParts.accountsHash), "the accounts a height commits to are the ones its commit leaves");
    for (const producer of work.rechecked) this.history.delete(toHex(producer));
    for (const block of work.ordered) {
      this.ordered.set(toHex(block.hash), block.timestamp);
      if (block.recheck) this.remember({ ...block, finalHeight: core.height });
    }
    for (const [blockHash, timestamp] of this.ordered) if (timestamp < core.timestamp - MAX_OPTIMISTIC_AGE_MS) this.ordered.delete(blockHash);
    this.currentLeagues = work.leagues;
    this.currentTip = tip;
    this.currentHeight = core.height;
    this.lastProposal = Uint8Array.from(hash);
    this.lastTimestamp = core.timestamp;
    const record: ReplicaRecord = { proposalHash: this.lastProposal, tip, accounts: accounts.snapshot(), suspended: work.leagues.suspended, ordered: work.ordered };
    return {
      height: core.height, mode: core.mode, proposalHash: this.lastProposal, included, includedTransactions: work.transactions, timestamp: core.timestamp,
      excluded: work.excluded, blocks: work.blocks, evidence: work.evidence, slashed: work.slashed, slashings: work.slashings, rechecked: work.findings,
      verifiedSignatures: work.verified, tip, commitmentParts, atomix: work.atomix, record,
    };
  }

  private verifyAll(items: readonly SignatureItem[], work: Work): boolean[] {
    work.verified += items.length;
    return items.length === 0 ? [] : this.verifier.verifyBatch(items);
  }

  private applyOneLeague(transactions: readonly Uint8Array[], work: Work): void {
    const { shard, shardCount } = this.options;
    const checked = validateStateless(packTransactions(transactions), shard, shardCount, "submitted", this.options.atomix?.verifier);
    checked.rejections.forEach((rejection, i) => {
      if (rejection !== null) work.excluded.push({ txid: checked.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), code: rejection.code });
    });
    const items = itemsByRecord(checked);
    const valid = this.verifyAll(checked.signatures, work);
    let cursor = 0;
    const keep = items.map((list, k) => {
      const ok = valid.slice(cursor, cursor + list.length).every(Boolean);
      cursor += list.length;
      if (!ok) work.excluded.push({ txid: txidOf(checked, k), code: "POB_BAD_SIGNATURE" });
      return ok;
    });
    const statuses = this.applyRecords([{ checked, keep }], work);
    keep.forEach((flag, k) => {
      if (!flag) return;
      const status = statuses.shift()!;
      if (status === ApplyStatus.Ok) {
        const transaction = transactions[checked.recordTx[k]!]!;
        work.include(txidViewOf(checked, k), transaction, merkleLeafHash(transaction));
      } else {
        work.excluded.push({ txid: txidOf(checked, k), code: APPLY_STATUS_NAMES[status] ?? "MALFORMED" });
      }
    });
  }

  /**
   * Step 5 for every kept record, in order, in one undoable write; the statuses of the kept
   * records. Atomix records first pass the decided-once rule (src/atomix/phases.ts): one not
   * admitted is excluded with TX_ATOMIX_DECIDED and is no longer kept.
   */
  private applyRecords(sources: readonly { readonly checked: StatelessResult; readonly keep: boolean[]; readonly hash?: Uint8Array }[], work: Work): number[] {
    const atomix: AdmittedAtomix[] = [];
    for (const { checked, keep, hash } of sources) {
      for (let cursor = new RecordCursor(checked.records), k = 0; !cursor.done; cursor.next(), k++) {
        const { kind } = cursor;
        if (keep[k] && kind === TxKind.ValidatorRegistration) {
          const refusal = this.releaseRefusal(cursor.bytes);
          if (refusal === undefined) continue;
          keep[k] = false;
          work.excluded.push({ txid: txidOf(checked, k), code: refusal, ...(hash === undefined ? {} : { block: hash }) });
          continue;
        }
        if (!keep[k] || !isAtomixKind(kind)) continue;
        const crossTxids = crossTxidsOfRecord(kind, cursor.bytes);
        // This height's phases first; the store's for an X it has not touched (one read, remembered as fresh when it holds none).
        const fresh: boolean[] = [];
        const stored = this.options.atomix?.phases;
        const admitted = crossTxids.every((crossTxid) => {
          const here = work.atomixPhases.get(crossTxid);
          const phase = here ?? stored?.phaseOf(crossTxid);
          fresh.push(here === undefined && stored !== undefined && phase === undefined);
          return admits(kind, phase);
        });
        if (!admitted) {
          keep[k] = false;
          work.excluded.push({ txid: txidOf(checked, k), code: "TX_ATOMIX_DECIDED", ...(hash === undefined ? {} : { block: hash }) });
          continue;
        }
        // Admitted: the kernel decides it below, so a later record of these X in the height sees them decided.
        const settles = kind === TxKind.AtomixLock && recordLockSettles(cursor.bytes);
        const next = phaseAfter(kind, true, settles);
        if (next !== undefined) for (const crossTxid of crossTxids) work.atomixPhases.set(crossTxid, next);
        atomix.push({ kind, crossTxids, fresh, txid: txidOf(checked, k), settles });
      }
    }
    const { records, count } = recordsWhereAll(sources.map(({ checked, keep }) => ({ records: checked.records, keep: (k: number) => keep[k]! })));
    if (count === 0) return [];
    work.applied = true;
    const statuses = Array.from(this.options.utxo.applyBlock(records, count).statuses);
    if (atomix.length > 0) this.decideAtomix(sources, statuses, atomix, work);
    return statuses;
  }

  /**
   * The epoch rule of a bond release (src/ledger/kinds/registration.ts), for a registration-kind
   * record: undefined when it is no release or the rule admits it, else the refusal — the bond is
   * no departure's, the release is not signed by the departed validator's key, the epoch is before
   * the departure's release epoch, or it pays another owner than the leave named.
   */
  private releaseRefusal(record: Uint8Array): LedgerErrorCode | undefined {
    const release = releaseOfRecord(record, 0);
    if (release === undefined) return undefined;
    const departure = this.options.departureOf?.(release.bond);
    if (departure === undefined) return "TX_RELEASE_NOT_DEPARTED";
    if (!sameBytes(bondOwner(departure.validator), release.owner)) return "TX_RELEASE_WRONG_KEY";
    if (this.currentLeagues.epoch < departure.releaseEpoch) return "TX_RELEASE_TOO_EARLY";
    if (!sameBytes(departure.payout, release.payout)) return "TX_RELEASE_WRONG_PAYOUT";
    return undefined;
  }

  /** The phases the admitted Atomix records reached, by their kernel statuses, in order (work.atomix, work.atomixPhases). */
  private decideAtomix(sources: readonly { readonly checked: StatelessResult; readonly keep: boolean[] }[], statuses: readonly number[], admitted: readonly AdmittedAtomix[], work: Work): void {
    let next = 0;
    let status = 0;
    // The applied records become the height's included transactions, in this order (applyScreened, applyOneLeague).
    let position = work.includedCount;
    for (const { checked, keep } of sources) {
      for (let cursor = new RecordCursor(checked.records), k = 0; !cursor.done; cursor.next(), k++) {
        if (!keep[k]) continue;
        const applied = statuses[status++] === ApplyStatus.Ok;
        if (applied) position++;
        if (!isAtomixKind(cursor.kind)) continue;
        const { kind, crossTxids, fresh, txid, settles } = admitted[next++]!;
        const phase = phaseAfter(kind, applied, settles);
        crossTxids.forEach((crossTxid, i) => {
          if (phase === undefined) {
            // A commit the kernel refused leaves the phase where it was.
            const before = this.options.atomix?.phases.phaseOf(crossTxid);
            if (before === undefined) work.atomixPhases.delete(crossTxid);
            else work.atomixPhases.set(crossTxid, before);
            return;
          }
          work.atomixPhases.set(crossTxid, phase);
          work.atomix.push({ crossTxid, txid, phase, ...(applied ? { position: position - 1 } : {}), fresh: fresh[i]! });
        });
      }
    }
  }

  private rejectBlock(hash: Uint8Array, code: PobErrorCode, work: Work, producer?: Uint8Array): undefined {
    work.blocks.push({ hash, rejected: code, included: 0, sampled: 0, ...(producer === undefined ? {} : { producer }) });
    return undefined;
  }

  private isExcluded(producer: Uint8Array, work: Work): boolean {
    const { accounts } = this.options;
    return work.slashed.some((record) => Buffer.compare(record.publicKey, producer) === 0) || (accounts.has(producer) && accounts.isExcluded(producer));
  }

  /**
   * Step 3 for every held block of a proposal at once: the signatures of the records each block's
   * sampler draws, verified in one batch (a block's sample is a handful of signatures; one batch
   * over the proposal costs less per signature than one per block). Only decoded optimistic blocks
   * not ordered before and not sealed by this replica's producer are sampled ahead; `screen` checks the rest as it goes.
   * The verdicts depend on the bytes and the final randomness alone, so using them in `screen`
   * decides exactly as verifying there would.
   */
  private verifySamples(blocks: readonly Uint8Array[], bodyOf: (hash: Uint8Array) => Uint8Array | DecodedBlock | undefined, finalRandomness: Uint8Array, leagues: Leagues): Map<DecodedBlock, SampleVerdicts> {
    const sampled: { block: DecodedBlock; records: number[]; items: RecordItems }[] = [];
    const all: SignatureItem[] = [];
    const seen = new Set<string>();
    for (const hash of blocks) {
      const key = toHex(hash);
      const block = bodyOf(hash);
      if (block === undefined || block instanceof Uint8Array || block.header.kind !== BlockKind.Optimistic || this.sealedHere(hash) || this.ordered.has(key) || seen.has(key)) continue;
      seen.add(key);
      const checked = this.statelessOf(block);
      const items = this.itemsOf(block);
      const sampler = new Sampler(leagues.policy.samplingProbability, sampleSeed(finalRandomness, hash));
      const records: number[] = [];
      for (let k = 0; k < items.count; k++) {
        if (!sampler.isSampled(txidViewOf(checked, k))) continue;
        records.push(k);
        all.push(...items.at(k));
      }
      sampled.push({ block, records, items });
    }
    const verdicts = new Map<DecodedBlock, SampleVerdicts>();
    const valid = all.length === 0 ? [] : this.verifier.verifyBatch(all);
    let cursor = 0;
    for (const { block, records, items } of sampled) {
      const byRecord = new Map<number, boolean>();
      for (const k of records) {
        const n = items.at(k).length;
        let ok = true;
        for (let i = cursor; i < cursor + n; i++) ok &&= valid[i]!;
        byRecord.set(k, ok);
        cursor += n;
      }
      verdicts.set(block, byRecord);
    }
    return verdicts;
  }

  /** Steps 1–4 for one optimistic block; undefined when it is rejected whole. `samples`: step 3's verdicts verified ahead (`verifySamples`). */
  private screen(hash: Uint8Array, body: Uint8Array | DecodedBlock | undefined, proposalTime: number, finalRandomness: Uint8Array, work: Work, earlier: readonly Screened[], samples: Map<DecodedBlock, SampleVerdicts>): Screened | undefined {
    const { shard, accounts } = this.options;
    if (body === undefined) return this.rejectBlock(hash, "POB_BLOCK_UNAVAILABLE", work);
    let block: DecodedBlock;
    try {
      block = body instanceof Uint8Array ? decodeBlock(body) : body;
    } catch (error) {
      if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
      return this.rejectBlock(hash, "POB_BLOCK_MALFORMED", work);
    }
    if (Buffer.compare(block.hash, hash) !== 0 || block.header.kind !== BlockKind.Optimistic || block.seal.kind !== "producer") {
      return this.rejectBlock(hash, "POB_BLOCK_MALFORMED", work);
    }
    const producer = block.header.producer;
    const key = toHex(hash);
    // A duplicate's transactions were settled where the block was first ordered.
    if (this.ordered.has(key) || work.orderedNow.has(key)) return this.rejectBlock(hash, "POB_BLOCK_DUPLICATE", work, producer);
    // Any other rejection of a decodable block settles its transactions as excluded with the
    // block's code, so their producer's reservations are released and every validator answers them.
    const reject = (code: PobErrorCode): undefined => {
      for (let i = 0; i < block.header.txCount; i++) work.excluded.push({ txid: block.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), code, block: hash });
      return this.rejectBlock(hash, code, work, producer);
    };
    if (block.header.shard !== shard || block.header.epoch !== work.leagues.epoch) return reject("POB_BLOCK_WRONG_CONTEXT");
    const { timestamp } = block.header;
    if (timestamp > proposalTime + MAX_CLOCK_SKEW_MS || timestamp < proposalTime - MAX_OPTIMISTIC_AGE_MS) return reject("POB_BLOCK_BAD_TIMESTAMP");
    if (this.isExcluded(producer, work)) return reject("POB_PRODUCER_SLASHED");
    if (!work.leagues.isBelievable(producer)) return reject("POB_NOT_BELIEVABLE");
    work.verified += 1;
    if (!this.verifier.verify(block.seal.signature, hash, producer)) return reject("POB_BAD_SEAL");
    work.orderedNow.set(key, timestamp);

    const checked = this.statelessOf(block);
    checked.rejections.forEach((rejection, i) => {
      if (rejection !== null) work.excluded.push({ txid: checked.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), code: rejection.code, block: hash });
    });
    const believable = work.leagues.believable;
    const items = this.itemsOf(block);
    const keep = Array.from({ length: items.count }, (_, k) => {
      const spender = spenderOf(block.transactions[checked.recordTx[k]!]!);
      const assigned = spender !== undefined && Buffer.compare(assignee(spender, believable), producer) === 0;
      if (!assigned) work.excluded.push({ txid: txidOf(checked, k), code: "POB_NOT_ASSIGNED", block: hash });
      return assigned;
    });
    const ahead = samples.get(block);
    const sampler = new Sampler(work.leagues.policy.samplingProbability, sampleSeed(finalRandomness, hash));
    const sampled = keep.map((flag, k) => flag && (ahead !== undefined ? ahead.has(k) : sampler.isSampled(txidViewOf(checked, k))));
    const screened: Screened = { verdict: work.blocks.length, hash, block, producer, checked, items, keep, verified: sampled };
    // Its verdict, in proposal order, is completed once the UTXO set has decided (applyScreened).
    work.blocks.push({ hash, producer, included: 0, sampled: 0 });
    // A block sampled ahead is sampled alike here (same seed, policy and txids): its verdicts are this step's.
    const invalid = this.sealedHere(hash) ? this.countVerified(items, sampled, work)
      : ahead !== undefined ? this.sampledInvalid(items, sampled, ahead, work)
      : this.findInvalid(items, sampled, work);
    if (invalid.length > 0) {
      const evidence = makeEvidence(block, checked.recordTx[invalid[0]!]!);
      const verdict = verifyEvidence(evidence, producer, this.verifier);
      invariant(verdict.valid, "evidence built from a sampled invalid signature must verify");
      work.evidence.push(evidence);
      work.slashed.push({ publicKey: Uint8Array.from(producer), epoch: accounts.epoch, burned: accounts.get(producer).stake });
      work.leagues = work.leagues.withoutValidator(producer);
      this.exclude(screened, invalid, work);
      // The offender is no longer believed: its blocks in this proposal are checked in full before
      // anything is applied, and its blocks of earlier heights are re-checked.
      for (const own of [...earlier.filter((e) => Buffer.compare(e.producer, producer) === 0), screened]) this.verifyRest(own, work);
      this.recheck(producer, work);
    }
    return screened;
  }

  /** Verifies every kept record of `screened` not verified yet and excludes the invalid ones. */
  private verifyRest(screened: Screened, work: Work): void {
    const unchecked = screened.keep.map((flag, k) => flag && !screened.verified[k]);
    this.exclude(screened, this.findInvalid(screened.items, unchecked, work), work);
    unchecked.forEach((flag, k) => {
      if (flag) screened.verified[k] = true;
    });
  }

  private exclude(screened: Screened, invalid: readonly number[], work: Work): void {
    for (const k of invalid) {
      screened.keep[k] = false;
      work.excluded.push({ txid: txidOf(screened.checked, k), code: "POB_BAD_SIGNATURE", block: screened.hash });
    }
  }

  /**
   * The slashing transaction of every producer slashed in this execution (slashing.ts), as one
   * derived batch; undefined when nobody was. The offender's bond comes from the epoch context; its
   * victims' losses from the re-check.
   */
  private slashings(work: Work, height: number): Derived | undefined {
    if (work.slashed.length === 0) return undefined;
    const { shard, shardCount, bondOf } = this.options;
    const transactions = work.slashed.map((record, i) => {
      const bond = bondOf(record.publicKey);
      invariant(bond !== undefined, "a believable validator has a bond in its epoch context");
      const losses = work.losses.get(toHex(record.publicKey)) ?? [];
      const { transaction, compensation } = makeSlashing({ epoch: work.leagues.epoch, shard, height, evidence: work.evidence[i]!, bond, losses });
      work.slashings.push({ offender: record.publicKey, txid: transactionIdOfEncoding(transaction), transaction, compensation });
      return transaction;
    });
    return { transactions, checked: validateStateless(packTransactions(transactions), shard, shardCount, "derived") };
  }

  /** Step 5 over the screened blocks and the derived slashings, then each block's verdict and ordered-block entry. */
  private applyScreened(screened: readonly Screened[], derived: Derived | undefined, work: Work): void {
    const sources = derived === undefined ? screened : [...screened, { checked: derived.checked, keep: derived.transactions.map(() => true) }];
    const statuses = this.applyRecords(sources, work);
    let next = 0;
    for (const entry of screened) {
      const { checked, keep, hash, block, producer } = entry;
      const first = work.includedCount;
      keep.forEach((flag, k) => {
        if (!flag) return;
        const status = statuses[next++]!;
        if (status === ApplyStatus.Ok) {
          const tx = checked.recordTx[k]!;
          work.include(txidViewOf(checked, k), block.transactions[tx]!, block.leafHashes.subarray(tx * HASH_BYTES, (tx + 1) * HASH_BYTES));
        } else {
          work.excluded.push({ txid: txidOf(checked, k), code: APPLY_STATUS_NAMES[status] ?? "MALFORMED", block: hash });
        }
      });
      const count = work.includedCount - first;
      const recheck = !this.isExcluded(producer, work);
      if (recheck) work.producers.push(producer);
      work.ordered.push({ hash, producer, timestamp: block.header.timestamp, first, count, recheck });
      work.blocks[entry.verdict] = { hash, producer, included: count, sampled: entry.verified.filter(Boolean).length };
    }
    if (derived === undefined) return;
    derived.transactions.forEach((transaction, k) => {
      const status = statuses[next++]!;
      const txid = txidViewOf(derived.checked, k);
      // The bond exists from the genesis (or registration) until this, its only spend.
      invariant(status === ApplyStatus.Ok, `the slashing ${toHex(txid)} applies (status ${APPLY_STATUS_NAMES[status]})`);
      work.include(txid, transaction, merkleLeafHash(transaction));
    });
  }

  /** Whether this replica's producer sealed block `hash` (PobValidatorOptions `sealedHere`). */
  private sealedHere(hash: Uint8Array): boolean {
    return this.options.sealedHere?.(hash) === true;
  }

  /** Step 3 for a block sealed here: its signatures among `which` were verified before it was sealed; none is invalid. */
  private countVerified(items: RecordItems, which: readonly boolean[], work: Work): number[] {
    which.forEach((flag, k) => {
      if (flag) work.verified += items.at(k).length;
    });
    return [];
  }

  /** Record indexes among `which` (records `verifySamples` sampled: `screen` draws its sample from them) found invalid there. */
  private sampledInvalid(items: RecordItems, which: readonly boolean[], verdicts: SampleVerdicts, work: Work): number[] {
    const invalid: number[] = [];
    which.forEach((flag, k) => {
      if (!flag) return;
      const valid = verdicts.get(k)!;
      work.verified += items.at(k).length;
      if (!valid) invalid.push(k);
    });
    return invalid;
  }

  /** Record indexes among `which` having at least one invalid signature. */
  private findInvalid(items: RecordItems, which: readonly boolean[], work: Work): number[] {
    const chosen = which.flatMap((flag, k) => (flag ? [k] : []));
    const valid = this.verifyAll(chosen.flatMap((k) => items.at(k)), work);
    const invalid: number[] = [];
    let cursor = 0;
    for (const k of chosen) {
      const n = items.at(k).length;
      if (!valid.slice(cursor, cursor + n).every(Boolean)) invalid.push(k);
      cursor += n;
    }
    return invalid;
  }

  /**
   * All earlier final blocks of a slashed producer in this epoch, every signature (§7.2), read back
   * from the final chain. Each invalid transaction is a finding; each owner whose signature in it
   * is invalid lost the inputs it owns there (their amounts as created), which the slashing repays.
   */
  private recheck(producer: Uint8Array, work: Work): void {
    const { shard, shardCount, chain } = this.options;
    const earlier = this.history.get(toHex(producer)) ?? [];
    work.rechecked.push(producer);
    const losses: Loss[] = [];
    for (const ordered of earlier) {
      const transactions = chain.transactions(ordered.finalHeight).slice(ordered.first, ordered.first + ordered.count);
      invariant(transactions.length === ordered.count, `final height ${ordered.finalHeight} holds the ${ordered.count} transactions ordered from block ${toHex(ordered.hash)}`);
      const checked = validateStateless(packTransactions(transactions), shard, shardCount, "submitted", this.options.atomix?.verifier);
      const valid = this.verifyAll(checked.signatures, work);
      const invalidOwners = new Map<number, Set<string>>();
      checked.signatures.forEach((item, i) => {
        if (valid[i]) return;
        const tx = checked.signatureTx[i]!;
        const owners = invalidOwners.get(tx) ?? new Set<string>();
        owners.add(toHex(item.publicKey));
        invalidOwners.set(tx, owners);
      });
      for (const [index, owners] of invalidOwners) {
        const tx = transactions[index]!;
        const txid = checked.txids.slice(index * TXID_BYTES, (index + 1) * TXID_BYTES);
        work.findings.push({ producer, block: ordered.hash, txid, finalHeight: ordered.finalHeight, alreadyFinal: true });
        const record = new RecordCursor(applyRecordOf(tx, txid, this.options.shard, this.options.shardCount));
        for (let i = 0; i < record.inputCount; i++) {
          const owner = record.inputOwner(i);
          if (!owners.has(toHex(owner))) continue;
          const spent = chain.createdOutput(record.outpoint(i).subarray(0, TXID_BYTES), record.outpointIndex(i));
          invariant(spent !== undefined, "an input of a final transaction was created by the genesis or a final transaction");
          losses.push({ owner: Uint8Array.from(owner), amount: spent.amount });
        }
      }
    }
    work.losses.set(toHex(producer), losses);
  }
}

/** Transactions this replica derives itself (slashings), statelessly checked. */
interface Derived {
  readonly transactions: readonly Uint8Array[];
  readonly checked: StatelessResult;
}

/** What one execution found and will change at commit. */
/** `bytes` in a buffer twice its size. */
function grown(bytes: Uint8Array): Uint8Array {
  const larger = new Uint8Array(bytes.length * 2);
  larger.set(bytes);
  return larger;
}

/** Included transactions a Work holds room for before its packed buffers double. */
const INCLUDED_ROOM = 1024;

class Work {
  /** The included transactions' encodings, in final order. */
  transactions: Uint8Array[] = [];
  /** Their txids and the body root's leaf hashes of them (`merkleLeafHash`), packed in the same order: no copy per transaction. */
  #txids: Uint8Array = new Uint8Array(INCLUDED_ROOM * TXID_BYTES);
  #leafHashes: Uint8Array = new Uint8Array(INCLUDED_ROOM * HASH_BYTES);
  excluded: ExcludedTransaction[] = [];
  blocks: BlockVerdict[] = [];
  evidence: Evidence[] = [];
  slashed: SlashRecord[] = [];
  slashings: SlashingFact[] = [];
  findings: RecheckFinding[] = [];
  /** Per slashed producer (hex): its victims' losses found by the re-check. */
  losses = new Map<string, Loss[]>();
  /** Producers whose earlier blocks were re-checked (their history ends). */
  rechecked: Uint8Array[] = [];
  verified = 0;
  producers: Uint8Array[] = [];
  /** The optimistic blocks this height ordered, in order (what the replica record keeps). */
  ordered: Omit<OrderedBlock, "finalHeight">[] = [];
  orderedNow = new Map<string, number>();
  /** Whether anything was written to the UTXO set (what `abort` undoes). */
  applied = false;
  /** Cross-shard transactions this height decided, in order, and their phases so far (keys: views of the records' cross txids). */
  atomix: AtomixDecision[] = [];
  atomixPhases = new ByteKeyMap<AtomixPhase>();

  constructor(public leagues: Leagues) {}

  get includedCount(): number {
    return this.transactions.length;
  }

  /** Includes a transaction in final order: its txid and the body root's leaf hash of it (both copied; views are fine), and its encoding. */
  include(txid: Uint8Array, transaction: Uint8Array, leafHash: Uint8Array): void {
    const n = this.transactions.length;
    if ((n + 1) * TXID_BYTES > this.#txids.length) {
      this.#txids = grown(this.#txids);
      this.#leafHashes = grown(this.#leafHashes);
    }
    this.#txids.set(txid, n * TXID_BYTES);
    this.#leafHashes.set(leafHash, n * HASH_BYTES);
    this.transactions.push(transaction);
  }

  /** The included txids, packed in final order (a copy of their own). */
  includedTxids(): Uint8Array {
    return this.#txids.slice(0, this.transactions.length * TXID_BYTES);
  }

  /** The body root of the included transactions (ledger/block.ts `bodyRootOf`) from their leaf hashes. */
  bodyRoot(): Uint8Array {
    return merkleRootOfLeafHashes(this.#leafHashes.subarray(0, this.transactions.length * HASH_BYTES));
  }
}
