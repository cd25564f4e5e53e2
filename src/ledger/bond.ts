/**
 * Bonds (white paper §7.1–7.2; issue 12 defect 4): a validator's stake is an output in the UTXO
 * set of the shard it serves, so slashing is a ledger fact — a slashing transaction spends the
 * bond, pays the offender's victims from it and burns the rest (src/ledger/kinds/slashing.ts).
 *
 * Bond outpoints carry BOND_INDEX_FLAG in their output index, a range no transaction creates
 * (a transfer has at most MAX_OUTPUTS outputs, the genesis at most 2^24) and a transfer may not
 * spend (TX_BAD_FIELD): so a forger's unsigned spend of a bond is refused before any sampling,
 * and a bond stays in place until its slashing or its release. Its owner is `bondOwner(validator)` = SHA-256(domain ‖ validator key): 32 bytes no one
 * holds a signing key for (finding one would take a discrete logarithm of a hash), so no
 * transfer can ever spend it; only the slashing kind, whose record the shard's execution builds,
 * and a release (./kinds/registration.ts: signed by the validator, once its leave took it out
 * and a full epoch passed — the epoch's permits in the UTXO kernel) name it. Genesis bonds have the outpoint (genesisBondTxid, BOND_INDEX_FLAG | i) for genesis validator i, amount
 * its stake. Validators that join later bond through registration (./kinds/registration.ts):
 * their bond's outpoint is `registrationBond(validator)` = (SHA-256(domain ‖ key), BOND_INDEX_FLAG),
 * a function of the key alone, so a second registration of a key whose bond is still there
 * creates an entry that exists (the kernel's OUTPUT_EXISTS), in one block or across blocks.
 *
 * API: `bondOwner(key)`, `registrationBond(key)`, `bondEntries(bonds)` (packed UtxoTable entries);
 * the genesis bonds are `genesisBond(genesis, i)` in ./genesis.ts.
 */
import { OUTPOINT_BYTES, PUBLIC_KEY_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { BinaryWriter } from "../codec/binary.js";
import { sha256 } from "../crypto/sha256.js";
import { check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

const BOND_OWNER_DOMAIN = new TextEncoder().encode("IOSChain/bond-owner/v1");
const REGISTRATION_BOND_DOMAIN = new TextEncoder().encode("IOSChain/registration-bond/v1");

/** Set in the output index of every bond's outpoint (module doc). */
export const BOND_INDEX_FLAG = 0x8000_0000;

/** A bond in the UTXO set: its outpoint (txid ‖ u32le index), the validator and the amount. */
export interface Bond {
  readonly outpoint: Uint8Array;
  readonly validator: Uint8Array;
  readonly amount: bigint;
}

/** The owner of `validator`'s bond: a key nobody can sign for. */
export function bondOwner(validator: Uint8Array): Uint8Array {
  check<LedgerErrorCode>(validator.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `a validator key is ${PUBLIC_KEY_BYTES} bytes`);
  return sha256(BinaryWriter.ofSize(BOND_OWNER_DOMAIN.length + PUBLIC_KEY_BYTES).bytes(BOND_OWNER_DOMAIN).bytes(validator).finish());
}

/** The outpoint (txid ‖ u32le index) of the bond a registration of `validator` creates (module doc). */
export function registrationBond(validator: Uint8Array): Uint8Array<ArrayBuffer> {
  check<LedgerErrorCode>(validator.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `a validator key is ${PUBLIC_KEY_BYTES} bytes`);
  const txid = sha256(BinaryWriter.ofSize(REGISTRATION_BOND_DOMAIN.length + PUBLIC_KEY_BYTES).bytes(REGISTRATION_BOND_DOMAIN).bytes(validator).finish());
  return BinaryWriter.ofSize(OUTPOINT_BYTES).bytes(txid).u32(BOND_INDEX_FLAG).finish();
}

/** The bonds as packed UtxoTable entries (UTXO_ENTRY: outpoint ‖ owner ‖ amount), in the given order. */
export function bondEntries(bonds: readonly Bond[]): Uint8Array {
  const packed = new Uint8Array(bonds.length * UTXO_ENTRY.bytes);
  bonds.forEach(({ outpoint, validator, amount }, k) => {
    check<LedgerErrorCode>(outpoint.length === OUTPOINT_BYTES, "TX_BAD_FIELD", `a bond outpoint is ${OUTPOINT_BYTES} bytes`);
    new BinaryWriter(packed, k * UTXO_ENTRY.bytes).bytes(outpoint).bytes(bondOwner(validator)).u64(amount);
  });
  return packed;
}
