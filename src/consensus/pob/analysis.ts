/**
 * Sampling-detection analysis of Proof-of-Believability (white paper §7.2): each transaction's
 * signatures are re-verified independently with probability p, so a believable validator that
 * slips k invalid transactions into the blocks of one epoch goes undetected with probability
 * (1 − p)^k. Used by the statistical tests and by `ios analyze`.
 *
 * A leader colluding with the producer may pick among `choices` candidate samples (randomness.ts
 * states the count); the producer then escapes with probability at most choices · (1 − p)^k.
 *
 * API: `undetectedProbability(p, k)`, `undetectedWithChoices(p, k, choices)`, `detectionProbability(p, k)`,
 * `expectedInvalidBeforeDetection(p)`, `invalidForConfidence(p, confidence)`,
 * `binomialInterval(trials, probability, sigmas)`.
 */
import { check } from "../../errors.js";
import type { PobErrorCode } from "./errors.js";

function checkProbability(p: number, what: string): void {
  check<PobErrorCode>(typeof p === "number" && p >= 0 && p <= 1, "POB_BAD_PROBABILITY", `${what} must be a number in [0, 1], got ${String(p)}`);
}

function checkCount(k: number, what: string): void {
  check<PobErrorCode>(Number.isSafeInteger(k) && k >= 0, "POB_BAD_ARGUMENT", `${what} must be a non-negative integer, got ${String(k)}`);
}

/** P(no invalid transaction among k is sampled) = (1 − p)^k. */
export function undetectedProbability(p: number, k: number): number {
  checkProbability(p, "p");
  checkCount(k, "k");
  return (1 - p) ** k;
}

/** Union bound over `choices` independent candidate samples: min(1, choices · (1 − p)^k). */
export function undetectedWithChoices(p: number, k: number, choices: number): number {
  checkCount(choices, "choices");
  return Math.min(1, choices * undetectedProbability(p, k));
}

/** P(at least one of k invalid transactions is sampled) = 1 − (1 − p)^k. */
export function detectionProbability(p: number, k: number): number {
  return 1 - undetectedProbability(p, k);
}

/**
 * Expected number of invalid transactions a cheater gets through before the first detection:
 * the failures before the first success of a geometric law, (1 − p) / p.
 */
export function expectedInvalidBeforeDetection(p: number): number {
  checkProbability(p, "p");
  check<PobErrorCode>(p > 0, "POB_BAD_PROBABILITY", "p must be > 0: with p = 0 nothing is ever detected");
  return (1 - p) / p;
}

/**
 * Smallest k such that k invalid transactions are detected with probability ≥ `confidence`:
 * ⌈ln(1 − confidence) / ln(1 − p)⌉ (1 when p = 1).
 */
export function invalidForConfidence(p: number, confidence: number): number {
  checkProbability(p, "p");
  checkProbability(confidence, "confidence");
  check<PobErrorCode>(p > 0, "POB_BAD_PROBABILITY", "p must be > 0");
  check<PobErrorCode>(confidence < 1, "POB_BAD_PROBABILITY", "confidence 1 needs p = 1 or infinitely many samples");
  if (p === 1 || confidence === 0) return confidence === 0 ? 0 : 1;
  return Math.max(0, Math.ceil(Math.log(1 - confidence) / Math.log(1 - p)));
}

/** mean ± sigmas·σ of Binomial(trials, probability), clamped to [0, trials]. */
export function binomialInterval(trials: number, probability: number, sigmas: number): { mean: number; sd: number; low: number; high: number } {
  checkCount(trials, "trials");
  checkProbability(probability, "probability");
  check<PobErrorCode>(typeof sigmas === "number" && sigmas >= 0, "POB_BAD_ARGUMENT", `sigmas must be ≥ 0, got ${String(sigmas)}`);
  const mean = trials * probability;
  const sd = Math.sqrt(trials * probability * (1 - probability));
  return { mean, sd, low: Math.max(0, mean - sigmas * sd), high: Math.min(trials, mean + sigmas * sd) };
}
