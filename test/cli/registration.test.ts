// `ios tx register`, `ios tx leave` and `ios tx release` against a running node: the registration
// becomes final and its bond shows in the UTXO set (the balance of the bond's owner), a second
// registration of the key is rejected by the kernel, a bond below the minimum is refused at
// submission, the validator's leave becomes final while the bond stays, and a release in an epoch
// that lists no departure is refused by the kernel (NOT_RELEASABLE) with the bond left in place.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bondOwner, registrationBond } from "../../src/ledger/bond.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { keyFileJson, loadKeyFile } from "../../src/node/config.js";
import { MIN_VALIDATOR_BOND } from "../../src/ledger/kinds/registration.js";
import { ios, IosProcess, singleValidatorConfig, startValidator } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "ios-cli-registration-"));
const running: IosProcess[] = [];
after(async () => {
  for (const p of running) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ios tx register / leave / release", () => {
  it("registers a validator with a bond, refuses a second registration and a small bond, and records its leave", async () => {
    const configFile = await singleValidatorConfig(dir, "cli-registration", 2, 5000);
    const newcomer = deriveTestAccounts("cli registration newcomer", 1)[0]!;
    const newcomerFile = join(dir, "newcomer.key.json");
    writeFileSync(newcomerFile, keyFileJson(newcomer));
    const payer = join(dir, "account-0.key.json");
    const genesis = join(dir, "genesis.json");

    const { process: node, url } = await startValidator(configFile, running);

    const registered = await ios(["tx", "register", "--from", payer, "--validator", newcomerFile, "--bond", "2000", "--genesis", genesis, "--node", url, "--wait"]);
    assert.equal(registered.code, 0, registered.stderr);
    const bondHex = Buffer.from(registrationBond(newcomer.publicKey)).toString("hex");
    assert.match(registered.stdout, new RegExp(`^bond ${bondHex} of 2000\ntxid [0-9a-f]{64} accepted\nfinal at height \\d+`));
    const bondOwnerHex = Buffer.from(bondOwner(newcomer.publicKey)).toString("hex");
    assert.match((await ios(["balance", bondOwnerHex, "--node", url])).stdout, /^2000 in 1 output\(s\)/, "the bond is in the UTXO set");
    const payerHex = Buffer.from(loadKeyFile(payer).publicKey).toString("hex");
    assert.match((await ios(["balance", payerHex, "--node", url])).stdout, /^3000 in 1 output\(s\)/, "the change came back");

    const again = await ios(["tx", "register", "--from", join(dir, "account-1.key.json"), "--validator", newcomerFile, "--bond", "2000", "--genesis", genesis, "--node", url, "--wait"]);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /OUTPUT_EXISTS/, "a key with a live bond registers once");

    const small = await ios(["tx", "register", "--from", payer, "--validator", newcomerFile, "--bond", String(MIN_VALIDATOR_BOND - 1n), "--genesis", genesis, "--node", url]);
    assert.notEqual(small.code, 0);
    assert.match(small.stderr, /TX_BOND_TOO_SMALL/);

    const left = await ios(["tx", "leave", "--validator", newcomerFile, "--payout", payerHex, "--node", url, "--wait"]);
    assert.equal(left.code, 0, left.stderr);
    assert.match(left.stdout, /^txid [0-9a-f]{64} accepted\nfinal at height \d+/);
    assert.match((await ios(["balance", bondOwnerHex, "--node", url])).stdout, /^2000 in 1 output\(s\)/, "the leave releases nothing by itself");

    // The node's one endless epoch lists no departure: its kernel holds no release permit, the bond stays.
    const early = await ios(["tx", "release", "--validator", newcomerFile, "--payout", payerHex, "--node", url, "--wait"]);
    assert.equal(early.code, 1, early.stdout);
    assert.match(early.stdout, new RegExp(`^release of bond ${bondHex}: 2000 to ${payerHex}\n`), "the whole bond, as the node holds it");
    assert.match(early.stderr, /NOT_RELEASABLE/);
    assert.match((await ios(["balance", bondOwnerHex, "--node", url])).stdout, /^2000 in 1 output\(s\)/, "a refused release spends nothing");
    const noBond = await ios(["tx", "release", "--validator", join(dir, "account-1.key.json"), "--payout", payerHex, "--node", url]);
    assert.equal(noBond.code, 1);
    assert.match(noBond.stderr, /CLI_NO_BOND/, "a key without a bond in the shard");

    const usage = await ios(["tx", "leave", "--validator", newcomerFile, "--payout", payerHex, "--bond", "zz:1", "--node", url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /CLI_USAGE: --bond must be TXID:INDEX/);
    assert.equal(await node.stop(), 0);
  });
});
