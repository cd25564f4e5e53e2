// Shared helpers of the ledger tests: a seeded generator (tests must be reproducible by seed)
// and builders of signed transfers over deterministic accounts.
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction, type TxInput, type TxOutput } from "../../src/ledger/transaction.js";

/** mulberry32: a small seeded PRNG, enough to drive test workloads reproducibly. */
export class TestRng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return this.nextU32() % n;
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.nextU32() & 0xff;
    return out;
  }
  bigint64(): bigint {
    return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
  }
}

export const ACCOUNTS: KeyPair[] = deriveTestAccounts("ledger tests", 8);

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** A signed transfer over ACCOUNTS (inputs owned by the given accounts). */
export function signedTransfer(inputs: TxInput[], outputs: TxOutput[], signers: readonly KeyPair[] = ACCOUNTS): { bytes: Uint8Array; txid: Uint8Array } {
  const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs, outputs }, signers);
  return { bytes: encodeTransaction(transaction), txid };
}
