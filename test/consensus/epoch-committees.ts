/**
 * Two BFT committees of one shard, the outgoing epoch's and the incoming one's, on the same
 * validators: the fixture of the instance tests (test/net/instances.test.ts on real sockets,
 * test/sim/instances.test.ts in the simulator). Each committee proposes values tagged with its
 * epoch and accepts only its own; each signs under its own chain id, so a message that crossed
 * from one committee to the other would fail verification and be counted as rejected.
 */
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import type { SchnorrKey } from "../../src/crypto/schnorr.js";
import type { FinalityRecord } from "../../src/consensus/bft/codec.js";
import { BftNode } from "../../src/consensus/bft/protocol.js";
import type { Channel, InstanceId } from "../../src/net/interface.js";
import type { Clock, Rng } from "../../src/runtime/interface.js";

const verifier = new Ed25519Verifier();

/** The consensus instance of `epoch` in shard 0. */
export function epochInstance(epoch: number): InstanceId {
  return { protocol: "consensus", shard: 0, epoch };
}

/** A proposal: epoch u32 ‖ height u32 ‖ proposer u8. */
function proposal(epoch: number, height: number, proposer: number): Uint8Array {
  const bytes = new Uint8Array(9);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, epoch, true);
  view.setUint32(4, height, true);
  bytes[8] = proposer;
  return bytes;
}

/** The epoch a proposal is tagged with. */
export function epochOf(record: FinalityRecord): number {
  return new DataView(record.proposal.buffer, record.proposal.byteOffset).getUint32(0, true);
}

export interface CommitteeMember {
  readonly epoch: number;
  readonly channel: Channel;
  readonly bft: BftNode;
  readonly finals: FinalityRecord[];
}

/**
 * One validator's member of `epoch`'s committee on `channel` (a channel of epochInstance(epoch));
 * `index` is its place in `participants`. The caller starts it.
 */
export function committeeMember(options: {
  epoch: number;
  channel: Channel;
  participants: readonly Uint8Array[];
  index: number;
  key: SchnorrKey;
  clock: Clock;
  rng: Rng;
  viewTimeoutMs: number;
}): CommitteeMember {
  const { epoch, channel, index } = options;
  const finals: FinalityRecord[] = [];
  const bft = new BftNode(
    {
      chainId: new TextEncoder().encode(`ioschain-instances/shard-0/epoch-${epoch}`),
      participants: options.participants,
      viewTimeoutMs: options.viewTimeoutMs,
      cosi: { fanout: 4, levelTimeoutMs: 20 },
    },
    {
      channel,
      clock: options.clock,
      rng: options.rng,
      key: options.key,
      verifier,
      app: {
        propose: (height) => proposal(epoch, height, index),
        validate: (height, value) => {
          if (value.length !== 9) return false;
          const view = new DataView(value.buffer, value.byteOffset);
          return view.getUint32(0, true) === epoch && view.getUint32(4, true) === height;
        },
        onFinal: (record) => finals.push(record),
      },
    },
  );
  return { epoch, channel, bft, finals };
}
