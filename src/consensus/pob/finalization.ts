/**
 * Phase 2 of Proof-of-Believability on one validator (white paper §7.2; DESIGN.md §4): apply a
 * final proposal decided by the normal league to this validator's replica of the shard state.
 *
 *   two-league, per optimistic block in final order:
 *     1. context: the body is available, decodes strictly, is of this shard and epoch, was not
 *        ordered before, its producer is believable now (not slashed) and its seal verifies;
 *        otherwise the whole block is rejected with its code;
 *     2. stateless checks of each transaction (structure, shard) and assignment to the producer;
 *     3. sampling (sampling.ts): each transaction's signatures are re-verified with probability
 *        p from the final randomness, which exists only after the producer signed;
 *     4. a sampled invalid signature: the transaction is excluded, evidence (evidence.ts) is
 *        built and verified as any validator would, the producer is slashed (stake burned,
 *        reputation and Servi zeroed, out of the believable league — possibly engaging the
 *        one-league fallback), every other transaction of this block is verified in full and
 *        every earlier block of the producer in this epoch is re-checked in full;
 *     5. full state check (the UTXO table: existence, owner, double spends, conservation), per
 *        transaction all or nothing: a double spend across two producers loses in final order.
 *   one-league (fallback): every signature of the leader's transactions is verified, then 5.
 *   afterwards: producers of accepted blocks validated a block → their Servi is cleared and their
 *   reputation grows; every normal-league member verified a non-empty final block → Servi is
 *   issued (in one-league mode the proposing leader validated it → its Servi is cleared).
 *
 * Re-check of earlier blocks that are already final: invalid transactions found there are
 * reported (`rechecked`, alreadyFinal) and the evidence slashes the producer, but the state
 * they changed is NOT rolled back: undoing finalized blocks (and compensating the defrauded users
 * the paper promises) is out of scope of this engine.
 *
 * Every step is a deterministic function of the proposal, the block bodies, the final randomness
 * and the replica, so all honest validators reach the same outcome; `tip` chains the outcomes.
 *
 * API: class `PobValidator` (checkProposal, applyFinal, beginEpoch, leagues, tip, height).
 */
import { Ed25519Verifier, type SignatureItem } from "../../crypto/ed25519.js";
import { merkleRootOfPackedLeaves } from "../../crypto/merkle.js";
import { sha256 } from "../../crypto/sha256.js";
import { BlockKind, decodeBlock, type DecodedBlock } from "../../ledger/block.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode } from "../../ledger/errors.js";
import { recordsWhere } from "../../ledger/records.js";
import { packTransactions, validateStateless, type StatelessResult } from "../../ledger/stateless.js";
import { APPLY_STATUS_NAMES, ApplyStatus } from "../../ledger/utxo-table.js";
import { invariant, check, hasCodeIn } from "../../errors.js";
import { assignee, spenderOf } from "./assignment.js";
import type { BelievabilityLedger, SlashRecord } from "./believability.js";
import type { PobErrorCode } from "./errors.js";
import { makeEvidence, verifyEvidence, type Evidence } from "./evidence.js";
import type { Leagues, LeagueMode } from "./leagues.js";
import { decodeProposal, encodeProposal, proposalHash, type FinalProposal } from "./proposal.js";
import { Sampler, sampleSeed } from "./sampling.js";
import { toHex } from "../../hex.js";
import { HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";

const RECORD_DOMAIN = new TextEncoder().encode("IOSChain/pob/final-record/v1");
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
  readonly proposalHash: Uint8Array;
  /** Included txids in final order, packed 32 bytes each. */
  readonly included: Uint8Array;
  /** The included transactions' encodings, in the same order: the final block's body. */
  readonly includedTransactions: readonly Uint8Array[];
  /** Latest timestamp among the accepted optimistic blocks' headers (0 if none): the final block's. */
  readonly latestTimestamp: number;
  readonly excluded: readonly ExcludedTransaction[];
  readonly blocks: readonly BlockVerdict[];
  readonly evidence: readonly Evidence[];
  readonly slashed: readonly SlashRecord[];
  readonly rechecked: readonly RecheckFinding[];
  /** Signatures verified by this validator for this proposal. */
  readonly verifiedSignatures: number;
  /** SHA-256(domain ‖ previous tip ‖ proposal hash ‖ Merkle root of included txids): the new tip. */
  readonly tip: Uint8Array;
}

/**
 * Where a validator's final state changes (a `UtxoTable` in the simulator; in a validator process
 * the shard state, which stages the records and makes the final block durable afterwards).
 */
export interface FinalStateWriter {
  /** Applies packed apply records, all or nothing per record; one ApplyStatus per record. */
  applyBlock(records: Uint8Array, count: number): { readonly statuses: Uint8Array };
}

export interface PobValidatorOptions {
  readonly shard: number;
  readonly shardCount: number;
  readonly utxo: FinalStateWriter;
  readonly accounts: BelievabilityLedger;
  readonly leagues: Leagues;
  readonly verifier?: Ed25519Verifier;
}

interface FinalizedBlock {
  readonly hash: Uint8Array;
  readonly block: DecodedBlock;
  readonly finalHeight: number;
  /** Indexes of the transactions that were included. */
  readonly included: readonly number[];
}

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

export class PobValidator {
  private readonly options: PobValidatorOptions;
  private readonly verifier: Ed25519Verifier;
  private currentLeagues: Leagues;
  private currentHeight = 0;
  private lastProposal: Uint8Array = ZERO_HASH;
  private currentTip: Uint8Array = ZERO_HASH;
  /** Optimistic blocks ordered this epoch, by producer (hex), for the re-check after a slashing. */
  private readonly history = new Map<string, FinalizedBlock[]>();
  private readonly ordered = new Set<string>();

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

  /** Final proposals applied so far. */
  get height(): number {
    return this.currentHeight;
  }

  get tip(): Uint8Array {
    return this.currentTip;
  }

  /** Hash of the last applied proposal: the `prevHash` of the next one. */
  get previousProposal(): Uint8Array {
    return this.lastProposal;
  }

  /**
   * Continues a replica whose state already reflects `height` final proposals, the last with hash
   * `previousProposal` and outcome tip `tip` (a validator process reopening its store). The
   * re-check history of the epoch is not restored: a producer slashed later is re-checked only
   * over the blocks ordered since.
   */
  resume(height: number, previousProposal: Uint8Array, tip: Uint8Array): void {
    check<PobErrorCode>(this.currentHeight === 0 && Number.isSafeInteger(height) && height >= 0, "POB_BAD_ARGUMENT", "resume applies to a fresh validator, at a height ≥ 0");
    check<PobErrorCode>(previousProposal.length === HASH_BYTES && tip.length === HASH_BYTES, "POB_BAD_ARGUMENT", "previousProposal and tip are 32-byte hashes");
    this.currentHeight = height;
    this.lastProposal = Uint8Array.from(previousProposal);
    this.currentTip = Uint8Array.from(tip);
  }

  /**
   * New epoch with freshly drawn leagues (after `accounts.beginEpoch`): the believable league
   * changes, slashing exclusions and the re-check history end.
   */
  beginEpoch(leagues: Leagues): void {
    check<PobErrorCode>(leagues.epoch === this.options.accounts.epoch && leagues.epoch > this.currentLeagues.epoch, "POB_BAD_ARGUMENT",
      `leagues of epoch ${leagues.epoch} do not follow epoch ${this.currentLeagues.epoch} (accounts at ${this.options.accounts.epoch})`);
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

  private checkContext(proposal: FinalProposal): void {
    check<PobErrorCode>(proposal.height === this.currentHeight + 1, "POB_BAD_PROPOSAL", `height ${proposal.height} is not ${this.currentHeight + 1}`);
    check<PobErrorCode>(Buffer.compare(proposal.prevHash, this.lastProposal) === 0, "POB_BAD_PROPOSAL", "prevHash is not the last final proposal");
    check<PobErrorCode>(proposal.epoch === this.currentLeagues.epoch, "POB_BAD_PROPOSAL", `epoch ${proposal.epoch} is not ${this.currentLeagues.epoch}`);
    check<PobErrorCode>(proposal.mode === this.currentLeagues.mode, "POB_BAD_PROPOSAL", `mode ${proposal.mode} while the shard runs ${this.currentLeagues.mode}`);
    check<PobErrorCode>(this.currentLeagues.normal.some((v) => Buffer.compare(v, proposal.proposer) === 0), "POB_BAD_PROPOSAL",
      "the proposer is not a normal-league member");
  }

  /**
   * Applies a decided proposal. `bodyOf(hash)` gives an optimistic block's bytes, or the block
   * already decoded from them (`decodeBlock`, so it is not hashed again), or undefined if this
   * validator never received it; `finalRandomness` (32 bytes) was fixed after the blocks were
   * signed (see sampling.ts).
   */
  applyFinal(proposal: FinalProposal, bodyOf: (hash: Uint8Array) => Uint8Array | DecodedBlock | undefined, finalRandomness: Uint8Array): FinalOutcome {
    // encodeProposal checks every field decodeProposal would; the encoding is needed only for the hash.
    const encoded = encodeProposal(proposal);
    this.checkContext(proposal);
    const hash = proposalHash(encoded);
    const work: Work = { included: [], transactions: [], latestTimestamp: 0, excluded: [], blocks: [], evidence: [], slashed: [], rechecked: [], verified: 0, producers: [] };
    const height = proposal.height;
    if (proposal.mode === "two-league") {
      for (const blockHash of proposal.blocks) this.applyOptimistic(blockHash, bodyOf(blockHash), finalRandomness, height, work);
    } else {
      this.applyOneLeague(proposal.transactions, work);
    }
    const { accounts } = this.options;
    for (const producer of work.producers) {
      if (accounts.isExcluded(producer)) continue;
      accounts.clearServi(producer);
      accounts.rewardReputation(producer);
    }
    // An empty final block is no contribution: Servi is issued only for verifying actual content.
    if (proposal.blocks.length + proposal.transactions.length > 0) {
      if (proposal.mode === "one-league") accounts.clearServi(proposal.proposer);
      for (const member of this.currentLeagues.normal) {
        if (proposal.mode === "one-league" && Buffer.compare(member, proposal.proposer) === 0) continue;
        if (!accounts.isExcluded(member)) accounts.issueServi(member);
      }
    }
    const included = new Uint8Array(work.included.length * TXID_BYTES);
    work.included.forEach((txid, i) => included.set(txid, i * TXID_BYTES));
    const record = new Uint8Array(RECORD_DOMAIN.length + 3 * HASH_BYTES);
    record.set(RECORD_DOMAIN);
    record.set(this.currentTip, RECORD_DOMAIN.length);
    record.set(hash, RECORD_DOMAIN.length + HASH_BYTES);
    record.set(merkleRootOfPackedLeaves(included, TXID_BYTES), RECORD_DOMAIN.length + 2 * HASH_BYTES);
    this.currentTip = sha256(record);
    this.currentHeight = height;
    this.lastProposal = hash;
    return {
      height, mode: proposal.mode, proposalHash: hash, included, includedTransactions: work.transactions, latestTimestamp: work.latestTimestamp, excluded: work.excluded, blocks: work.blocks,
      evidence: work.evidence, slashed: work.slashed, rechecked: work.rechecked, verifiedSignatures: work.verified, tip: this.currentTip,
    };
  }

  private verifyAll(items: readonly SignatureItem[], work: Work): boolean[] {
    work.verified += items.length;
    return items.length === 0 ? [] : this.verifier.verifyBatch(items);
  }

  private applyOneLeague(transactions: readonly Uint8Array[], work: Work): void {
    const { shard, shardCount } = this.options;
    const checked = validateStateless(packTransactions(transactions), shard, shardCount);
    checked.rejections.forEach((rejection, i) => {
      if (rejection !== null) work.excluded.push({ txid: checked.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), code: rejection.code });
    });
    const items = itemsByRecord(checked);
    const valid = this.verifyAll(checked.signatures, work);
    let cursor = 0;
    const keep = items.map((list, k) => {
      const ok = valid.slice(cursor, cursor + list.length).every(Boolean);
      cursor += list.length;
      if (!ok) work.excluded.push({ txid: this.txidOf(checked, k), code: "POB_BAD_SIGNATURE" });
      return ok;
    });
    this.applyRecords(checked, keep, work, undefined, transactions);
  }

  private txidOf(checked: StatelessResult, record: number): Uint8Array {
    const tx = checked.recordTx[record]!;
    return checked.txids.slice(tx * TXID_BYTES, (tx + 1) * TXID_BYTES);
  }

  /** Step 5: the UTXO table decides; returns the indexes (in the block) of included transactions. */
  private applyRecords(checked: StatelessResult, keep: readonly boolean[], work: Work, block: Uint8Array | undefined, transactions: readonly Uint8Array[]): number[] {
    const { records, count } = recordsWhere(checked.records, (k) => keep[k]!);
    const kept = keep.flatMap((flag, k) => (flag ? [k] : []));
    const delta = this.options.utxo.applyBlock(records, count);
    const included: number[] = [];
    kept.forEach((k, j) => {
      const status = delta.statuses[j]!;
      const txid = this.txidOf(checked, k);
      if (status === ApplyStatus.Ok) {
        work.included.push(txid);
        work.transactions.push(transactions[checked.recordTx[k]!]!);
        included.push(checked.recordTx[k]!);
      } else {
        work.excluded.push({ txid, code: APPLY_STATUS_NAMES[status] ?? "MALFORMED", ...(block === undefined ? {} : { block }) });
      }
    });
    return included;
  }

  private rejectBlock(hash: Uint8Array, code: PobErrorCode, work: Work, producer?: Uint8Array): void {
    work.blocks.push({ hash, rejected: code, included: 0, sampled: 0, ...(producer === undefined ? {} : { producer }) });
  }

  private applyOptimistic(hash: Uint8Array, body: Uint8Array | DecodedBlock | undefined, finalRandomness: Uint8Array, height: number, work: Work): void {
    const { shard, shardCount, accounts } = this.options;
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
    if (block.header.shard !== shard || block.header.epoch !== this.currentLeagues.epoch) return this.rejectBlock(hash, "POB_BLOCK_WRONG_CONTEXT", work, producer);
    if (this.ordered.has(toHex(hash))) return this.rejectBlock(hash, "POB_BLOCK_DUPLICATE", work, producer);
    if (accounts.has(producer) && accounts.isExcluded(producer)) return this.rejectBlock(hash, "POB_PRODUCER_SLASHED", work, producer);
    if (!this.currentLeagues.isBelievable(producer)) return this.rejectBlock(hash, "POB_NOT_BELIEVABLE", work, producer);
    work.verified += 1;
    if (!this.verifier.verify(block.seal.signature, hash, producer)) return this.rejectBlock(hash, "POB_BAD_SEAL", work, producer);
    this.ordered.add(toHex(hash));

    const checked = validateStateless(block.body, shard, shardCount);
    checked.rejections.forEach((rejection, i) => {
      if (rejection !== null) work.excluded.push({ txid: checked.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), code: rejection.code, block: hash });
    });
    const believable = this.currentLeagues.believable;
    const items = itemsByRecord(checked);
    const keep = items.map((_, k) => {
      const spender = spenderOf(block.transactions[checked.recordTx[k]!]!);
      const assigned = spender !== undefined && Buffer.compare(assignee(spender, believable), producer) === 0;
      if (!assigned) work.excluded.push({ txid: this.txidOf(checked, k), code: "POB_NOT_ASSIGNED", block: hash });
      return assigned;
    });

    const sampler = new Sampler(this.currentLeagues.policy.samplingProbability, sampleSeed(finalRandomness, hash));
    const sampled = keep.map((flag, k) => flag && sampler.isSampled(this.txidOf(checked, k)));
    const invalid = this.findInvalid(items, sampled, work);
    let sampledCount = sampled.filter(Boolean).length;
    if (invalid.length > 0) {
      const evidence = makeEvidence(block, checked.recordTx[invalid[0]!]!);
      const verdict = verifyEvidence(evidence, producer, this.verifier);
      invariant(verdict.valid, "evidence built from a sampled invalid signature must verify");
      work.evidence.push(evidence);
      work.slashed.push(accounts.slash(producer));
      this.currentLeagues = this.currentLeagues.withoutValidator(producer);
      // The offender is no longer believed: the rest of this block is checked in full.
      const unchecked = keep.map((flag, k) => flag && !sampled[k]);
      invalid.push(...this.findInvalid(items, unchecked, work));
      sampledCount = keep.filter(Boolean).length;
      this.recheck(producer, work);
    }
    for (const k of invalid) {
      keep[k] = false;
      work.excluded.push({ txid: this.txidOf(checked, k), code: "POB_BAD_SIGNATURE", block: hash });
    }
    const included = this.applyRecords(checked, keep, work, hash, block.transactions);
    work.latestTimestamp = Math.max(work.latestTimestamp, block.header.timestamp);
    if (!accounts.isExcluded(producer)) {
      work.producers.push(producer);
      const list = this.history.get(toHex(producer)) ?? [];
      list.push({ hash, block, finalHeight: height, included });
      this.history.set(toHex(producer), list);
    }
    work.blocks.push({ hash, producer, included: included.length, sampled: sampledCount });
  }

  /** Record indexes among `which` having at least one invalid signature. */
  private findInvalid(items: readonly SignatureItem[][], which: readonly boolean[], work: Work): number[] {
    const chosen = which.flatMap((flag, k) => (flag ? [k] : []));
    const valid = this.verifyAll(chosen.flatMap((k) => items[k]!), work);
    const invalid: number[] = [];
    let cursor = 0;
    for (const k of chosen) {
      const n = items[k]!.length;
      if (!valid.slice(cursor, cursor + n).every(Boolean)) invalid.push(k);
      cursor += n;
    }
    return invalid;
  }

  /** All earlier blocks of a slashed producer in this epoch, every signature (§7.2). */
  private recheck(producer: Uint8Array, work: Work): void {
    const earlier = this.history.get(toHex(producer)) ?? [];
    this.history.delete(toHex(producer));
    for (const finalized of earlier) {
      const { block } = finalized;
      const items = finalized.included.map((index) => {
        const tx = block.transactions[index]!;
        const checked = validateStateless(packTransactions([tx]), this.options.shard, this.options.shardCount);
        return checked.signatures;
      });
      const invalid = this.findInvalid(items, items.map(() => true), work);
      for (const k of invalid) {
        const index = finalized.included[k]!;
        work.rechecked.push({
          producer, block: finalized.hash, txid: block.txids.slice(index * TXID_BYTES, (index + 1) * TXID_BYTES), finalHeight: finalized.finalHeight, alreadyFinal: true,
        });
      }
    }
  }
}

interface Work {
  included: Uint8Array[];
  transactions: Uint8Array[];
  latestTimestamp: number;
  excluded: ExcludedTransaction[];
  blocks: BlockVerdict[];
  evidence: Evidence[];
  slashed: SlashRecord[];
  rechecked: RecheckFinding[];
  verified: number;
  producers: Uint8Array[];
}
