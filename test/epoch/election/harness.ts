/**
 * Whole-protocol runs of the leader election (src/epoch/election) in the deterministic simulator:
 * n validators with keys from a label, each a LeaderElection on its own transport, clock and rng,
 * beginning after a seeded skew; the winner's behaviour is scripted per node (honest: start at
 * once; silent: never; late: a START sent by hand after its window). Expected leaders are
 * recomputed here from the keys with the VRF directly, not through the election's code.
 */
import { sha256 } from "../../../src/crypto/sha256.js";
import { vrfProofToHash, vrfProve } from "../../../src/crypto/vrf.js";
import { ELECTION_MESSAGES, electionInstance, signStart } from "../../../src/epoch/election/messages.js";
import { LeaderElection } from "../../../src/epoch/election/election.js";
import type { ElectionOutcome } from "../../../src/epoch/election/interface.js";
import { toHex } from "../../../src/hex.js";
import { keyPairFromSecret } from "../../../src/ledger/keys.js";
import type { HandlerFailures } from "../../../src/log/handler-failures.js";
import type { Channel, PeerId } from "../../../src/net/interface.js";
import type { Clock } from "../../../src/runtime/interface.js";
import { SeededRng, type Seed } from "../../../src/runtime/seeded-rng.js";
import type { LinkConfig } from "../../../src/sim/link.js";
import { Simulator } from "../../../src/sim/simulator.js";

export const EPOCH = 3;

export interface Validators {
  readonly secrets: readonly Uint8Array[];
  readonly keys: readonly Uint8Array[];
  readonly peers: readonly PeerId[];
  readonly confHash: Uint8Array;
}

export function makeValidators(n: number, label: string): Validators {
  const rng = SeededRng.fromSeed(`${label}/keys`);
  const secrets = Array.from({ length: n }, () => rng.bytes(32));
  const keys = secrets.map((secret) => keyPairFromSecret(secret).publicKey);
  return { secrets, keys, peers: keys.map(toHex), confHash: sha256(new TextEncoder().encode(`${label}/configuration`)) };
}

/** beta of validator i in `view`, computed from RFC 9381 directly: alpha = conf hash ‖ u32le view. */
export function betaOf(validators: Validators, i: number, view: number): Uint8Array {
  const alpha = new Uint8Array(36);
  alpha.set(validators.confHash);
  new DataView(alpha.buffer).setUint32(32, view, true);
  return vrfProofToHash(vrfProve(validators.secrets[i]!, alpha));
}

/** Validators of `view` not in `excluded`, by increasing beta (then index): [0] is the expected leader. */
export function ranking(validators: Validators, view: number, excluded: readonly number[] = []): number[] {
  const betas = validators.keys.map((_, i) => betaOf(validators, i, view));
  return betas
    .map((_, i) => i)
    .filter((i) => !excluded.includes(i))
    .sort((a, b) => Buffer.compare(betas[a]!, betas[b]!) || a - b);
}

/** What a node does when it locks itself in. */
export type Behaviour =
  | { readonly kind: "honest" }
  | { readonly kind: "silent" }
  /** Sends a correctly signed START for the view it won, by hand, `afterMs` after locking itself in. */
  | { readonly kind: "late"; readonly afterMs: number };

export interface ElectionNode {
  readonly index: number;
  readonly election: LeaderElection;
  readonly channel: Channel;
  readonly clock: Clock;
  readonly failures: HandlerFailures;
  readonly elected: ElectionOutcome[];
  readonly skips: { view: number; validator: number }[];
  readonly leading: number[];
}

export interface RunOptions {
  readonly n: number;
  readonly seed: Seed;
  readonly deltaMs: number;
  /** Upper bound of each node's begin() delay (σ). */
  readonly skewMs?: number;
  /** A node's begin() delay, instead of a random one below skewMs. */
  readonly beginAfterMs?: (index: number) => number | undefined;
  readonly link?: Partial<LinkConfig>;
  readonly behaviour?: (index: number) => Behaviour;
  /** Called when a node agrees on a leader (after the harness recorded it): e.g. to abandon or resign it later. */
  readonly afterElected?: (node: ElectionNode, outcome: ElectionOutcome) => void;
  /** Scripts faults before the run (links, interceptors, injected messages). */
  readonly setup?: (sim: Simulator, nodes: Map<number, ElectionNode>, validators: Validators) => void;
  readonly label?: string;
  readonly log?: (line: string) => void;
}

export function runElection(options: RunOptions) {
  const label = options.label ?? `election/${options.n}`;
  const validators = makeValidators(options.n, label);
  const sim = new Simulator({ seed: options.seed, ...(options.link === undefined ? {} : { defaultLink: options.link }), ...(options.log === undefined ? {} : { log: options.log }) });
  const nodes = new Map<number, ElectionNode>();
  validators.peers.forEach((peer, index) => {
    sim.addNode(peer, ({ transport, clock, rng, failures }) => {
      const channel = transport.open(electionInstance(EPOCH));
      const behaviour = options.behaviour?.(index) ?? { kind: "honest" };
      const elected: ElectionOutcome[] = [];
      const skips: { view: number; validator: number }[] = [];
      const leading: number[] = [];
      const election: LeaderElection = new LeaderElection(
        { epoch: EPOCH, confHash: validators.confHash, validators: validators.keys, deltaMs: options.deltaMs },
        {
          channel,
          clock,
          secretKey: validators.secrets[index]!,
          onLeading: (lottery) => {
            leading.push(lottery.view);
            if (behaviour.kind === "honest") election.startAsLeader();
            if (behaviour.kind === "late") {
              clock.setTimer(behaviour.afterMs, () => {
                const start = signStart(validators.secrets[index]!, validators.confHash, { epoch: EPOCH, view: lottery.view, validator: index, proof: lottery.proof });
                channel.broadcast(validators.peers, ELECTION_MESSAGES.START, start);
              });
            }
          },
          onElected: (outcome) => {
            elected.push(outcome);
            options.afterElected?.(nodes.get(index)!, outcome);
          },
          onSkipped: (view, validator) => skips.push({ view, validator }),
        },
      );
      const skew = (options.skewMs ?? 0) * rng.nextFloat();
      clock.setTimer(options.beginAfterMs?.(index) ?? skew, () => election.begin());
      const node: ElectionNode = { index, election, channel, clock, failures, elected, skips, leading };
      nodes.set(index, node);
      return node;
    });
  });
  options.setup?.(sim, nodes, validators);
  const result = sim.run({ until: 100 * options.deltaMs });
  return { sim, nodes, validators, result, hash: sim.traceHash() };
}

/** The leader each node agreed on (undefined: none), by node index. */
export function leaders(nodes: Map<number, ElectionNode>): (number | undefined)[] {
  return [...nodes.values()].sort((a, b) => a.index - b.index).map((node) => node.election.outcome?.leader);
}
