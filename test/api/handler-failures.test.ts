/**
 * Loud failures in the client API: an exception in a route that is not the API's own answer (a
 * refusal with an API code) is logged with its code — the IosError's, or INTERNAL with the stack — counted in
 * ios_handler_errors_total, and answered; the server goes on serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MetricFamily } from "../../src/api/interface.js";
import { HandlerFailures } from "../../src/log/handler-failures.js";
import { MemoryLog } from "../../src/log/logger.js";
import { getJson, serveApi, stubBackend } from "./helpers.js";
import { IosError } from "../../src/errors.js";
import type { StoreErrorCode } from "../../src/store/errors.js";

const log = new MemoryLog();
const failures = new HandlerFailures(log.logger);

const backend = stubBackend({
  chain: {
    getBlock: () => {
      throw new TypeError("block cache is broken");
    },
  },
  status: () => {
    throw new IosError<StoreErrorCode>("STORE_CLOSED", "the store is closed");
  },
  metrics: (): MetricFamily[] => failures.metrics(),
});

describe("client API handler failures", () => {
  let served: Awaited<ReturnType<typeof serveApi>>;
  let base: string;
  before(async () => {
    served = await serveApi(backend, undefined, failures);
    base = `http://127.0.0.1:${served.port}`;
  });
  after(() => served.close());

  it("a bug is answered 500 API_INTERNAL, logged as INTERNAL with its stack and counted", async () => {
    const response = await getJson(`${base}/v1/block/1`);
    assert.equal(response.status, 500);
    assert.equal(response.body.error.code, "API_INTERNAL");
    assert.equal(failures.count("api", "INTERNAL"), 1);
    const [entry] = log.entries({ subsystem: "api", code: "INTERNAL" });
    assert.equal(entry!.level, "error");
    assert.equal(entry!["route"], "block");
    assert.match(String((entry!["err"] as { stack: string }).stack), /TypeError: block cache is broken/);
  });

  it("a coded error from below keeps its code in the answer, the log and the counter", async () => {
    const response = await getJson(`${base}/v1/tx/${"ab".repeat(32)}`);
    assert.equal(response.body.error.code, "STORE_CLOSED");
    assert.equal(failures.count("api", "STORE_CLOSED"), 1);
    assert.equal(log.entries({ subsystem: "api", code: "STORE_CLOSED" })[0]!.level, "warn");
  });

  it("the API's own answers (API_* codes) are not failures; the server keeps serving and /metrics shows the counts", async () => {
    const before = failures.total;
    assert.equal((await getJson(`${base}/v1/tx/nothex`)).body.error.code, "API_BAD_PARAMETER");
    assert.equal((await getJson(`${base}/v1/status`)).status, 200);
    assert.equal(failures.total, before);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /# TYPE ios_handler_errors_total counter/);
    assert.match(text, /ios_handler_errors_total\{subsystem="api",code="INTERNAL"\} 1/);
    assert.match(text, /ios_handler_errors_total\{subsystem="api",code="STORE_CLOSED"\} 1/);
  });
});
