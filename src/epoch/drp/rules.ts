/**
 * The rules of the DRP run (white paper §5.2) that the client, the servers and the offline
 * verifier apply alike: the shape of the choice T' (Algorithm 2 step 4a, Algorithm 3 step 4),
 * the fit of a deal to its dealer's group (step 3b), and recovery (step 7, Algorithm 3 steps
 * 5–6): decrypted shares checked against their proofs, each chosen secret S_j0 interpolated from
 * t_l valid shares, Z = Σ S_j0 (additive notation for the paper's ∏); and the client's draw of
 * T' among the verified deals (step 3c).
 */
import { check } from "../../errors.js";
import type { Rng } from "../../runtime/interface.js";
import { dealContext, groupOf, groupThreshold, type DrpConfig } from "./config.js";
import { RistrettoPoint } from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";
import type { Decryption } from "./messages.js";
import { recoverSecret, verifyDecryptedShare, type Deal, type DecryptedShare } from "./pvss.js";

/** Why T' is not t_l members of each group T_l with Σ t_l ≥ f + 1, or undefined if it is. */
export function choiceProblem(config: DrpConfig, chosen: readonly (readonly number[])[]): string | undefined {
  if (chosen.length !== config.groups.length) return `T' has ${chosen.length} groups, T has ${config.groups.length}`;
  let secrets = 0;
  for (let l = 0; l < chosen.length; l++) {
    const group = config.groups[l]!;
    const threshold = groupThreshold(group.length);
    if (chosen[l]!.length !== threshold) return `T'_${l} has ${chosen[l]!.length} dealers, t_${l} = ${threshold}`;
    if (!chosen[l]!.every((dealer) => group.includes(dealer))) return `T'_${l} names a server outside T_${l}`;
    secrets += threshold;
  }
  if (secrets < config.faultTolerance + 1) return `T' holds ${secrets} secrets, fewer than f + 1`;
  return undefined;
}

/**
 * T'_l (step 3c): `count` of `candidates` whose whole deal passes `verifies`, uniformly among
 * those, ascending; fewer if fewer pass. The candidates are visited in a uniform order (a
 * partial Fisher–Yates from `rng`) and verified as visited until `count` pass: the first `count`
 * to pass in a uniform order are a uniform `count`-subset of those that pass, and an honest run
 * verifies t_l deals per group instead of |T_l|.
 *
 * The draw is deterministic in the Rng (two nextU32 per nextFloat, so a seeded run replays its
 * T'), and nextFloat's 53 bits leave floor(x·k) a bias below k·2^-53 ≤ 2^-37 for k ≤ 2^16. Its
 * uniformity is not what Z's unbiasability rests on: T' holds Σ t_l ≥ f + 1 dealers, so at least
 * one honest secret, unknown to all until T' is co-signed, whatever rule picks T'.
 */
export function chooseVerified(candidates: readonly number[], count: number, rng: Rng, verifies: (dealer: number) => boolean): number[] {
  const pool = [...candidates];
  const chosen: number[] = [];
  for (let k = 0; k < pool.length && chosen.length < count; k++) {
    const pick = k + Math.floor(rng.nextFloat() * (pool.length - k));
    [pool[k], pool[pick]] = [pool[pick]!, pool[k]!];
    if (verifies(pool[k]!)) chosen.push(pool[k]!);
  }
  return chosen.sort((a, b) => a - b);
}

/** Whether a deal of `shareCount` shares and `threshold` fits `dealer`'s group: one share per member, t_l. */
export function dealFitsGroup(config: DrpConfig, dealer: number, shareCount: number, threshold: number): boolean {
  const group = config.groups[groupOf(config, dealer).group]!;
  return shareCount === group.length && threshold === groupThreshold(group.length);
}

/** The group members' PVSS keys, share i for member i − 1. */
export function groupKeys(config: DrpConfig, group: number): RistrettoPoint[] {
  return config.groups[group]!.map((server) => config.servers[server]!.pvssKey);
}

/**
 * Z from the chosen deals (`deals.get(j)` for each chosen dealer j, already verified) and the
 * recorded decryptions: shares that are not the sender's decryption of its encrypted share of a
 * chosen dealer of its group are skipped; DRP_TOO_FEW_SHARES if a chosen secret keeps fewer
 * than t_l valid shares. Shares are checked in sender order only until a secret has t_l: every
 * encrypted share of a chosen deal verified against its commitments, so any t_l valid
 * decryptions interpolate to the same S_j0, and the rest need no proof check.
 */
export function recoverOutput(
  config: DrpConfig,
  sessionId: Uint8Array,
  chosen: readonly (readonly number[])[],
  deals: ReadonlyMap<number, Deal>,
  decryptions: ReadonlyMap<number, Decryption>,
): RistrettoPoint {
  const valid = new Map<number, DecryptedShare[]>(chosen.flat().map((dealer) => [dealer, []]));
  for (const [server, { shares }] of decryptions) {
    const { group, shareIndex } = groupOf(config, server);
    for (const { dealer, share } of shares) {
      const collected = valid.get(dealer);
      if (collected === undefined || !chosen[group]!.includes(dealer) || share.index !== shareIndex) continue;
      if (collected.length === deals.get(dealer)!.threshold) continue;
      const encrypted = deals.get(dealer)!.shares[shareIndex - 1]!.point;
      if (verifyDecryptedShare(share, config.servers[server]!.pvssKey, encrypted, dealContext(sessionId, dealer))) collected.push(share);
    }
  }
  let z = RistrettoPoint.ZERO;
  for (const [dealer, shares] of valid) {
    const threshold = deals.get(dealer)!.threshold;
    check<DrpErrorCode>(shares.length >= threshold, "DRP_TOO_FEW_SHARES", `dealer ${dealer}'s secret has ${shares.length} valid shares, needs ${threshold}`);
    z = z.add(recoverSecret(shares, threshold));
  }
  return z;
}
