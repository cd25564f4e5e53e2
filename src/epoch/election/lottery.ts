/**
 * Lotteries of the leader election (white paper §4.1, Algorithm 1 step 1; epoch-design point 4):
 * lottery_{i,e,v} = ECVRF_{sk_i}(conf_{e−1} hash ‖ u32le v) with RFC 9381's
 * ECVRF-EDWARDS25519-SHA512-TAI (src/crypto/vrf.ts), under the validator's Ed25519 seed, as the
 * PoB seed shares use it (src/consensus/pob/randomness.ts). The value compared is beta =
 * proof_to_hash, as bytes (lexicographic), ties broken by the lower validator index.
 *
 * alpha carries no domain string of its own: the configuration hash already is a domain-separated
 * SHA-256, and at 36 bytes alpha can never equal the other VRF input of a validator key, the PoB
 * seed share's (a 26-byte domain, a chain id and a 32-byte hash: at least 59 bytes).
 *
 * Uniqueness (RFC 9381 §3.1, with validate_key): a key and an alpha have exactly one beta. A
 * byzantine prover can produce several valid proofs of one lottery (another nonce gives another
 * c and s), but all carry the same Gamma, hence the same beta: it cannot show different
 * lotteries to different peers, only the one it has, or none.
 *
 * Offline check, `verifyLeaderLottery`: given conf hash, the validators' keys, the view, the
 * leader's index and its proof, the proof is valid and yields beta. That the leader's lottery was
 * the minimum is NOT checkable from this alone: it needs the view's valid lotteries of every
 * validator not skipped (n proofs, each checked the same way), and each earlier view's skip needs
 * evidence of its own, since a leader's failure to start is an absence, which no single message
 * proves (e.g. a certificate of f + 1 signed "skipped" statements per view).
 */
import { BinaryWriter } from "../../codec/binary.js";
import { HASH_BYTES } from "../../codec/sizes.js";
import { vrfProofToHash, vrfProve, vrfVerify } from "../../crypto/vrf.js";
import { check } from "../../errors.js";
import type { ElectionErrorCode, LeaderLottery, Lottery } from "./interface.js";

/** alpha = conf_{e−1} hash (32) ‖ u32le view (Algorithm 1 step 1; epoch-design point 4). */
export const LOTTERY_INPUT_BYTES = HASH_BYTES + 4;

/** alpha of every validator's lottery in `view` of the election after configuration `confHash`. */
export function lotteryInput(confHash: Uint8Array, view: number): Uint8Array {
  check<ElectionErrorCode>(confHash instanceof Uint8Array && confHash.length === HASH_BYTES, "ELECTION_BAD_CONFIG", `the configuration hash is ${HASH_BYTES} bytes`);
  check<ElectionErrorCode>(Number.isInteger(view) && view >= 0 && view <= 0xffffffff, "ELECTION_BAD_CONFIG", `a view is a u32, got ${String(view)}`);
  return BinaryWriter.ofSize(LOTTERY_INPUT_BYTES).bytes(confHash).u32(view).finish();
}

/** This validator's lottery of `view`: its proof is deterministic, the same at every call. */
export function drawLottery(secretKey: Uint8Array, validator: number, confHash: Uint8Array, view: number): Lottery {
  const proof = vrfProve(secretKey, lotteryInput(confHash, view));
  return { validator, proof, beta: vrfProofToHash(proof) };
}

/** The verified lottery of `validators[validator]` in `view`, or undefined when its proof is not valid for that key, configuration and view. */
export function verifyLottery(validators: readonly Uint8Array[], confHash: Uint8Array, view: number, validator: number, proof: Uint8Array): Lottery | undefined {
  const key = validators[validator];
  if (key === undefined) return undefined;
  const beta = vrfVerify(key, proof, lotteryInput(confHash, view));
  return beta === undefined ? undefined : { validator, proof, beta };
}

/**
 * The offline check of a recorded leader lottery: beta when `lottery.proof` is the VRF proof of
 * validator `lottery.leader` over (confHash, lottery.view); throws ELECTION_BAD_VALIDATOR or
 * ELECTION_BAD_PROOF otherwise. It proves the lottery, not that it was the minimum (module doc).
 */
export function verifyLeaderLottery(confHash: Uint8Array, validators: readonly Uint8Array[], lottery: LeaderLottery): Uint8Array {
  check<ElectionErrorCode>(
    Number.isInteger(lottery.leader) && lottery.leader >= 0 && lottery.leader < validators.length,
    "ELECTION_BAD_VALIDATOR",
    `leader ${String(lottery.leader)} is not one of the ${validators.length} validators`,
  );
  const verified = verifyLottery(validators, confHash, lottery.view, lottery.leader, lottery.proof);
  check<ElectionErrorCode>(verified !== undefined, "ELECTION_BAD_PROOF", `the lottery of validator ${lottery.leader} in view ${lottery.view} does not verify`);
  return verified.beta;
}

/** Algorithm 1 step 3's order: negative when `a` wins over `b` (smaller beta as bytes, then smaller index). */
export function compareLotteries(a: Lottery, b: Lottery): number {
  return Buffer.compare(a.beta, b.beta) || a.validator - b.validator;
}

/** The winning lottery of a set (undefined for none). */
export function minimumLottery(lotteries: Iterable<Lottery>): Lottery | undefined {
  let best: Lottery | undefined;
  for (const lottery of lotteries) if (best === undefined || compareLotteries(lottery, best) < 0) best = lottery;
  return best;
}
