import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IosError, check, hasCodeIn } from "../src/errors.js";
import { API_ERROR_CODES, statusOfCode } from "../src/api/errors.js";
import { EXIT_RUNTIME, EXIT_USAGE, exitCodeOf } from "../src/cli/command.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode, type TransactionFailureDetail } from "../src/ledger/errors.js";
import { reviveWorkerError } from "../src/node/pool/chunked-pool.js";
import { SHARD_STATE_ERROR_CODES, type ShardStateErrorCode } from "../src/node/shard-state.js";

/** What `fn` throws (the test fails if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected a throw");
}

describe("IosError", () => {
  it("carries its code, a `CODE: message` message, the name IosError and an optional typed detail", () => {
    const detail: TransactionFailureDetail = { index: 3, code: "TX_ZERO_AMOUNT" };
    const error = new IosError<ShardStateErrorCode, TransactionFailureDetail>("STATE_INVALID_TX", "transaction 3: zero amount", detail);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "IosError");
    assert.equal(error.code, "STATE_INVALID_TX");
    assert.equal(error.message, "STATE_INVALID_TX: transaction 3: zero amount");
    // Typed: `index` is a number and `code` a LedgerErrorCode without casts.
    const index: number | undefined = error.detail?.index;
    const cause: LedgerErrorCode | undefined = error.detail?.code;
    assert.equal(index, 3);
    assert.equal(cause, "TX_ZERO_AMOUNT");
    assert.equal(new IosError("X_PLAIN", "no detail").detail, undefined);
  });

  it("keeps its code across a worker boundary, where only the message survives", () => {
    const cloned = structuredClone(new IosError<LedgerErrorCode>("TX_TRUNCATED", "3 bytes"));
    const revived = reviveWorkerError(cloned);
    assert.equal(revived.code, "TX_TRUNCATED");
    assert.equal(revived.message, "TX_TRUNCATED: 3 bytes");
  });
});

describe("check", () => {
  it("returns when the condition holds and narrows it", () => {
    const value = ["", "present"].find((text) => text.length > 0);
    check<LedgerErrorCode>(value !== undefined, "TX_BAD_FIELD", "value is missing");
    assert.equal(value.length, 7);
  });

  it("throws an IosError with the code, the message and the typed detail when it fails", () => {
    const error = thrown(() => check<LedgerErrorCode, TransactionFailureDetail>(false, "BLOCK_BAD_TRANSACTION", "transaction 0: truncated", { index: 0, code: "TX_TRUNCATED" }));
    assert.ok(error instanceof IosError);
    assert.equal(error.code, "BLOCK_BAD_TRANSACTION");
    assert.equal(error.message, "BLOCK_BAD_TRANSACTION: transaction 0: truncated");
    assert.deepEqual(error.detail, { index: 0, code: "TX_TRUNCATED" });
    const bare = thrown(() => check(0, "X_ZERO", "falsy"));
    assert.ok(bare instanceof IosError && bare.code === "X_ZERO" && bare.detail === undefined);
  });
});

describe("hasCodeIn", () => {
  it("tells one family of codes from other coded errors and from uncoded ones", () => {
    const ledger = new IosError<LedgerErrorCode>("BLOCK_TRUNCATED", "short");
    const state = new IosError<ShardStateErrorCode>("STATE_WRONG_SHARD", "shard 1");
    assert.ok(hasCodeIn(ledger, LEDGER_ERROR_CODES));
    assert.ok(!hasCodeIn(ledger, SHARD_STATE_ERROR_CODES));
    assert.ok(hasCodeIn(state, SHARD_STATE_ERROR_CODES));
    assert.ok(!hasCodeIn(state, LEDGER_ERROR_CODES));
    assert.ok(!hasCodeIn(new IosError("STORE_CORRUPT", "bad page"), LEDGER_ERROR_CODES));
  });

  it("never matches something that only looks coded", () => {
    assert.ok(!hasCodeIn(new Error("TX_TRUNCATED: a plain Error"), LEDGER_ERROR_CODES));
    assert.ok(!hasCodeIn({ code: "TX_TRUNCATED", message: "a plain object" }, LEDGER_ERROR_CODES));
    assert.ok(!hasCodeIn(undefined, LEDGER_ERROR_CODES));
    assert.ok(!hasCodeIn("TX_TRUNCATED", LEDGER_ERROR_CODES));
  });

  it("narrows to the family's code type", () => {
    const error: unknown = new IosError("API_NOT_FOUND", "no route");
    assert.ok(hasCodeIn(error, API_ERROR_CODES));
    const status: number = statusOfCode(error.code);
    assert.equal(status, 404);
  });
});

describe("codes decide how a failure is answered", () => {
  it("the CLI exits 2 for usage codes and 1 for every other code", () => {
    assert.equal(exitCodeOf("CLI_USAGE"), EXIT_USAGE);
    assert.equal(exitCodeOf("CLI_BAD_PATH"), EXIT_USAGE);
    assert.equal(exitCodeOf("CLI_IO"), EXIT_RUNTIME);
    assert.equal(exitCodeOf("CONFIG_BAD_JSON"), EXIT_RUNTIME);
  });

  it("the API answers with the status of the code", () => {
    assert.equal(statusOfCode("API_BODY_TOO_LARGE"), 413);
    assert.equal(statusOfCode("MEMPOOL_FULL"), 503);
    assert.equal(statusOfCode("TX_ZERO_AMOUNT"), 400);
  });
});
