/**
 * The sampling randomness of a final proposal (white paper §7.2: normal validators re-verify a
 * random sample of signatures, "from randomness the believable validator could not know when it
 * signed"; DESIGN.md §4).
 *
 *   1. the leader of (height, view) forms the proposal core (the optimistic block hashes it
 *      orders, which the producers signed before) and asks the other normal-league members for a
 *      share over its hash (SEED_REQUEST);
 *   2. a member answers at most one core per (height, view), and only to that view's leader, with
 *      its RFC 9381 VRF proof (ECVRF-EDWARDS25519-SHA512-TAI, src/crypto/vrf.ts) over
 *      alpha = "IOSChain/pob/seed-share/v1" ‖ u8 |chain id| ‖ chain id ‖ core hash (SEED_SHARE);
 *   3. the leader puts exactly t = 2f + 1 shares (`shareQuorum(n)`, n the normal league's size) in
 *      its proposal, ascending by member index, and the randomness is
 *      SHA-256("IOSChain/pob/final-randomness/v2" ‖ core hash ‖ beta_1 ‖ … ‖ beta_t);
 *   4. every member verifies the t proofs before co-signing; BFT then decides the whole proposal,
 *      shares included, so every replica samples with the same randomness at that height, across
 *      view changes (a view change re-proposes the prepared bytes, shares and all).
 *
 * Why the producer cannot know it: a VRF output is unpredictable without its secret key, and t
 * shares include at least f + 1 honest members' outputs over a core hash that exists only after
 * the ordered blocks were signed.
 *
 * What the leader can choose (the grinding bound). A VRF output is unique per key and input, so
 * for one core the only freedom is which t of the n members' shares to use: at most C(n, t)
 * values (`leaderChoices(n)`: 4 for n = 4, 21 for n = 7). A different core (another block set or
 * order) needs fresh shares, and an honest member gives one share per (height, view), so a leader
 * gets one core per view it leads. A byzantine producer colluding with the leaders of v views of
 * one height therefore sees at most v · C(n, t) candidate samples and slips k invalid transactions
 * through with probability at most min(1, v · C(n, t) · (1 − p)^k) (analysis.ts
 * `undetectedWithChoices`), against (1 − p)^k with an honest leader.
 *
 * One-league proposals carry no shares: every signature is verified, nothing is sampled; nor does
 * a two-league proposal that orders no block (an idle height: 2f + 1 VRF proofs and their
 * verifications were most of its cost). Their randomness is SHA-256(domain ‖ core hash), which
 * only enters the state commitment.
 *
 * API: `shareQuorum(n)`, `leaderChoices(n)`, `seedShareInput(chainId, coreHash)`,
 * `makeSeedShare(secretKey, member, chainId, coreHash)`, `verifySeedShare(share, members,
 * chainId, coreHash)`, `randomnessOfShares(coreHash, outputs)`, `proposalRandomness(proposal,
 * coreHash, members, chainId, verify)`, `unsampledRandomness(coreHash)`, `samplesSignatures(core)`.
 */
import { BinaryWriter } from "../../codec/binary.js";
import { HASH_BYTES, VRF_OUTPUT_BYTES } from "../../codec/sizes.js";
import { sha256 } from "../../crypto/sha256.js";
import { vrfProofToHash, vrfProve, vrfVerify } from "../../crypto/vrf.js";
import { check } from "../../errors.js";
import { cosiThreshold } from "../cosi/codec.js";
import type { PobErrorCode } from "./errors.js";
import type { FinalProposal, SeedShare } from "./proposal.js";

const SHARE_DOMAIN = new TextEncoder().encode("IOSChain/pob/seed-share/v1");
const RANDOMNESS_DOMAIN = new TextEncoder().encode("IOSChain/pob/final-randomness/v2");

/** Shares a two-league proposal carries: the BFT quorum 2f + 1 of the normal league (n = 3f + 1 + r). */
export function shareQuorum(normalLeagueSize: number): number {
  return cosiThreshold(normalLeagueSize);
}

/** The number of share sets a leader can choose among for one core: C(n, shareQuorum(n)). */
export function leaderChoices(normalLeagueSize: number): number {
  const t = shareQuorum(normalLeagueSize);
  let choices = 1;
  for (let i = 1; i <= normalLeagueSize - t; i++) choices = (choices * (t + i)) / i;
  return Math.round(choices);
}

/** alpha of a member's share: the domain, the BFT instance's chain id and the core hash. */
export function seedShareInput(chainId: Uint8Array, coreHash: Uint8Array): Uint8Array {
  check<PobErrorCode>(coreHash.length === HASH_BYTES, "POB_BAD_ARGUMENT", `core hash must be ${HASH_BYTES} bytes`);
  return BinaryWriter.ofSize(SHARE_DOMAIN.length + 1 + chainId.length + HASH_BYTES)
    .bytes(SHARE_DOMAIN)
    .lengthPrefixed("u8", chainId)
    .bytes(coreHash)
    .finish();
}

/** This member's share over `coreHash`. */
export function makeSeedShare(secretKey: Uint8Array, member: number, chainId: Uint8Array, coreHash: Uint8Array): SeedShare {
  return { member, proof: vrfProve(secretKey, seedShareInput(chainId, coreHash)) };
}

/** The VRF output of a share by `members[share.member]`, or undefined when its proof does not verify. */
export function verifySeedShare(share: SeedShare, members: readonly Uint8Array[], chainId: Uint8Array, coreHash: Uint8Array): Uint8Array | undefined {
  const key = members[share.member];
  if (key === undefined) return undefined;
  return vrfVerify(key, share.proof, seedShareInput(chainId, coreHash));
}

/** SHA-256(domain ‖ core hash ‖ outputs in member order). */
export function randomnessOfShares(coreHash: Uint8Array, outputs: readonly Uint8Array[]): Uint8Array {
  const writer = BinaryWriter.ofSize(RANDOMNESS_DOMAIN.length + HASH_BYTES + outputs.length * VRF_OUTPUT_BYTES).bytes(RANDOMNESS_DOMAIN).bytes(coreHash);
  for (const output of outputs) writer.bytes(output);
  return sha256(writer.finish());
}

/** The randomness of a proposal that samples nothing (one-league, or ordering no block): it only enters the state commitment. */
export function unsampledRandomness(coreHash: Uint8Array): Uint8Array {
  return randomnessOfShares(coreHash, []);
}

/** Whether a proposal core samples signatures, and so needs shares: a two-league core ordering at least one block. */
export function samplesSignatures(core: { readonly mode: "one-league" | "two-league"; readonly blocks: readonly unknown[] }): boolean {
  return core.mode === "two-league" && core.blocks.length > 0;
}

/**
 * The randomness a proposal fixes. Two-league: exactly `shareQuorum` shares, strictly ascending
 * member indexes; with `verify`, each proof must verify (a co-signer's check), without it the
 * outputs are read from the proofs (a proposal already decided by a verified certificate, whose
 * co-signers checked them). One-league or no block ordered: no shares. Throws POB_BAD_PROPOSAL otherwise.
 */
export function proposalRandomness(proposal: FinalProposal, coreHash: Uint8Array, members: readonly Uint8Array[], chainId: Uint8Array, verify: boolean): Uint8Array {
  const { shares } = proposal;
  if (!samplesSignatures(proposal)) {
    check<PobErrorCode>(shares.length === 0, "POB_BAD_PROPOSAL", "a proposal that samples nothing (one-league, or ordering no block) carries no randomness shares");
    return unsampledRandomness(coreHash);
  }
  const quorum = shareQuorum(members.length);
  check<PobErrorCode>(shares.length === quorum, "POB_BAD_PROPOSAL", `${shares.length} randomness shares, ${quorum} required`);
  const outputs = shares.map((share, i) => {
    check<PobErrorCode>(share.member < members.length && (i === 0 || share.member > shares[i - 1]!.member), "POB_BAD_PROPOSAL",
      "randomness shares must name distinct normal-league members in ascending order");
    const output = verify ? verifySeedShare(share, members, chainId, coreHash) : vrfProofToHash(share.proof);
    check<PobErrorCode>(output !== undefined, "POB_BAD_PROPOSAL", `the randomness share of member ${share.member} does not verify`);
    return output;
  });
  return randomnessOfShares(coreHash, outputs);
}
