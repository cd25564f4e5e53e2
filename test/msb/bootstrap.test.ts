/**
 * MSB bootstrap (src/msb/chunks.ts, chunk-server.ts, bootstrap.ts, chunk-channel.ts): the chunk
 * codec is strict; a server answers every chunk of its MSB with a proof and refuses other MSBs and
 * indexes; the fetcher downloads bodies of 0, 1, C − 1, C, C + 1, 10k and 100k entries from honest
 * servers byte for byte, and rejects a byzantine source (flipped entry, wrong proof, wrong count,
 * a chunk of another epoch, a refusal, a transport failure, silence on the virtual clock), marks it
 * bad with its code and takes the chunk from the next one; with every source bad it fails with
 * MSB_NO_SOURCE naming each. One run uses simulated peers over the simulator's transport.
 * Set IOS_TEST_SEED to replay.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ATOMIX_DECISION, UTXO_ENTRY } from "../../src/codec/sizes.js";
import { IosError } from "../../src/errors.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import type { Clock } from "../../src/runtime/interface.js";
import { Simulator } from "../../src/sim/simulator.js";
import { backPointerEpochs, makeMsbHeader, msbHeaderHash } from "../../src/msb/header.js";
import { merkleRootOfPackedLeaves } from "../../src/crypto/merkle.js";
import { snapshotOfEntries } from "../../src/msb/snapshot.js";
import { fetchMsbBody, MSB_CHUNK_TIMEOUT_MS, type BootstrappedBody, type ChunkSource } from "../../src/msb/bootstrap.js";
import { MsbChunkServer } from "../../src/msb/chunk-server.js";
import { ChannelChunkSource, serveChunks } from "../../src/msb/chunk-channel.js";
import {
  CHUNK_ANSWER_HEAD, CHUNK_ANSWER_HEAD_BYTES, CHUNK_REQUEST_BYTES, ChunkStatus, MSB_CHUNK_ENTRIES, MsbSection, chunkCount, decodeChunkAnswer, decodeChunkRequest, encodeChunkAnswer, encodeChunkRequest,
  type ChunkRequest,
} from "../../src/msb/chunks.js";
import type { MsbDecisions, MsbHeader, MsbSnapshot } from "../../src/msb/interface.js";
import { NO_ERROR, codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";
import { randomDecisions, randomEntries } from "./fixtures.js";

const seed = testSeed("msb bootstrap");
const ENTRY = UTXO_ENTRY.bytes;
const C = MSB_CHUNK_ENTRIES;
const CHAIN = SeededRng.fromSeed(`${seed}/chain`).bytes(32);

const DECISION = ATOMIX_DECISION.bytes;

interface Msb {
  readonly header: MsbHeader;
  readonly snapshot: MsbSnapshot;
  readonly decisions: MsbDecisions;
  readonly server: MsbChunkServer;
}

function msbOf(rng: SeededRng, count: number, epoch = 5, decisionCount = 7, decisions = randomDecisions(rng, decisionCount)): Msb {
  const snapshot = snapshotOfEntries(randomEntries(rng, count));
  const header = makeMsbHeader({ chain: CHAIN, shard: 2, epoch, height: 1000 * epoch, snapshot, decisions, backPointers: backPointerEpochs(epoch).map(() => rng.bytes(32)) });
  return { header, snapshot, decisions, server: new MsbChunkServer(header, snapshot.entries, decisions.entries) };
}

/** A source: what it answers to an encoded request (undefined: never answers). */
type Behaviour = (request: Uint8Array) => Uint8Array | undefined;
const honest = (server: MsbChunkServer): Behaviour => (request) => server.serve(request);

/** In-process sources named by string, each with its behaviour; counts requests in flight. */
class Sources implements ChunkSource<string> {
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly behaviours: Record<string, Behaviour>) {}

  request(source: string, request: ChunkRequest): Promise<Uint8Array> {
    const behaviour = this.behaviours[source]!;
    if (source === "broken") return Promise.reject(new Error("link reset"));
    const answer = behaviour(encodeChunkRequest(request));
    if (answer === undefined) return new Promise(() => undefined);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return nextTurn().then(() => {
      this.inFlight--;
      return answer;
    });
  }
}

/** Runs `promise` on the simulator's virtual time until it settles (timers fire as time passes). */
async function drive<T>(sim: Simulator, promise: Promise<T>): Promise<T> {
  let settled = false;
  const tracked = promise.finally(() => (settled = true));
  tracked.catch(() => undefined);
  for (let turns = 0; !settled; turns++) {
    assert.ok(turns < 1_000_000, "the fetch settles");
    sim.run({ until: sim.now() + 100 });
    await nextTurn();
    await nextTurn();
  }
  return tracked;
}

/** A virtual clock: the clock of a simulated node. */
function virtualClock(): { sim: Simulator; clock: Clock } {
  const sim = new Simulator({ seed: `${seed}/clock` });
  const node = sim.addNode("fetcher", (context) => context.clock);
  sim.run({ until: 0 });
  return { sim, clock: node.instance! };
}

async function fetchFrom(msb: Msb, behaviours: Record<string, Behaviour>, order = Object.keys(behaviours), maxInFlight?: number, section: MsbSection = MsbSection.Utxos) {
  const { sim, clock } = virtualClock();
  const network = new Sources(behaviours);
  const started = sim.now();
  try {
    const body = await drive(sim, fetchMsbBody({ header: msb.header, section, sources: order, network, clock, maxInFlight }));
    return { body, error: undefined, network, elapsed: sim.now() - started };
  } catch (error) {
    assert.ok(error instanceof IosError, `a coded error, got ${String(error)}`);
    return { body: undefined, error, network, elapsed: sim.now() - started };
  }
}

function assertWhole(msb: Msb, body: BootstrappedBody | undefined): void {
  assert.ok(body !== undefined, "the fetch succeeds");
  assert.equal(body.count, msb.header.count);
  assert.equal(body.supply, msb.header.supply);
  assert.ok(Buffer.from(body.entries).equals(Buffer.from(msb.snapshot.entries)), "the body is the snapshot's, byte for byte");
}

/** Rewrites an OK answer. */
function rewrite(server: MsbChunkServer, change: (answer: ReturnType<typeof decodeChunkAnswer>) => Parameters<typeof encodeChunkAnswer>[0]): Behaviour {
  return (request) => encodeChunkAnswer(change(decodeChunkAnswer(server.serve(request))));
}

describe("MSB chunk codec", () => {
  const rng = SeededRng.fromSeed(`${seed}/codec`);
  const request = { section: MsbSection.Utxos, shard: 3, epoch: 9, headerHash: rng.bytes(32), chunk: 7 };

  it("round-trips requests and answers; refuses truncation, trailing bytes, another version, unknown status, oversize counts", () => {
    const bytes = encodeChunkRequest(request);
    assert.equal(bytes.length, CHUNK_REQUEST_BYTES);
    assert.deepEqual(decodeChunkRequest(bytes), request);
    for (let cut = 0; cut < bytes.length; cut++) assert.equal(codeOf(() => decodeChunkRequest(bytes.subarray(0, cut))), "MSB_TRUNCATED");
    assert.equal(codeOf(() => decodeChunkRequest(new Uint8Array([...bytes, 0]))), "MSB_TRAILING");
    assert.equal(codeOf(() => decodeChunkRequest(new Uint8Array([1, ...bytes.subarray(1)]))), "MSB_BAD_VERSION", "version 1 had no section");
    assert.equal(codeOf(() => decodeChunkRequest(new Uint8Array([2, 2, ...bytes.subarray(2)]))), "MSB_OUT_OF_RANGE", "an unknown section");
    assert.equal(codeOf(() => encodeChunkRequest({ ...request, section: 2 as MsbSection })), "MSB_BAD_INPUT");
    const decisionsRequest = { ...request, section: MsbSection.Decisions };
    assert.deepEqual(decodeChunkRequest(encodeChunkRequest(decisionsRequest)), decisionsRequest);

    const answer = { ...request, status: ChunkStatus.Ok, entries: randomEntries(rng, 3), hashes: [rng.bytes(32), rng.bytes(32)] };
    const encoded = encodeChunkAnswer(answer);
    const decoded = decodeChunkAnswer(encoded);
    assert.deepEqual({ ...decoded, entries: decoded.entries.slice() }, answer);
    for (let cut = 0; cut < encoded.length; cut++) assert.notEqual(codeOf(() => decodeChunkAnswer(encoded.subarray(0, cut))), NO_ERROR, `cut at ${cut}`);
    assert.equal(codeOf(() => decodeChunkAnswer(new Uint8Array([...encoded, 0]))), "MSB_TRAILING");
    const badStatus = encoded.slice();
    badStatus[1] = 9;
    assert.equal(codeOf(() => decodeChunkAnswer(badStatus)), "MSB_OUT_OF_RANGE");
    const tooMany = encoded.slice();
    tooMany.set([0xff, 0xff, 0xff, 0x7f], CHUNK_ANSWER_HEAD_BYTES);
    assert.equal(codeOf(() => decodeChunkAnswer(tooMany)), "MSB_TOO_LARGE");
    const refusal = encodeChunkAnswer({ ...request, status: ChunkStatus.OutOfRange, entries: new Uint8Array(0), hashes: [] });
    assert.equal(decodeChunkAnswer(refusal).status, ChunkStatus.OutOfRange);
    assert.equal(codeOf(() => decodeChunkAnswer(new Uint8Array([...refusal, 0, 0, 0, 0]))), "MSB_TRAILING", "a refusal carries nothing");
    assert.equal(codeOf(() => encodeChunkAnswer({ ...answer, status: ChunkStatus.UnknownMsb })), "MSB_BAD_INPUT", "a refusal with entries");
    // A decisions answer carries 33-byte leaves: the same bytes read as the other section do not decode.
    const decisionsAnswer = { ...answer, section: MsbSection.Decisions, entries: randomDecisions(rng, 4).entries };
    const decodedDecisions = decodeChunkAnswer(encodeChunkAnswer(decisionsAnswer));
    assert.deepEqual({ ...decodedDecisions, entries: decodedDecisions.entries.slice() }, decisionsAnswer);
    const relabelled = encoded.slice();
    relabelled[CHUNK_ANSWER_HEAD.offset.section] = MsbSection.Decisions;
    assert.notEqual(codeOf(() => decodeChunkAnswer(relabelled)), NO_ERROR, "3 UTXO entries read as decisions");
    assert.equal(codeOf(() => encodeChunkAnswer({ ...decisionsAnswer, entries: answer.entries })), "MSB_BAD_INPUT", "228 bytes are no whole number of decisions");
  });
});

describe("MSB chunk server", () => {
  const rng = SeededRng.fromSeed(`${seed}/server`);

  it("answers each chunk of its MSB and refuses another header, shard, epoch or an index past the body", () => {
    const msb = msbOf(rng, 2 * C + 5);
    const ask = (change: Partial<ChunkRequest>) => decodeChunkAnswer(msb.server.serve(encodeChunkRequest({
      section: MsbSection.Utxos, shard: msb.header.shard, epoch: msb.header.epoch, headerHash: msb.server.headerHash, chunk: 0, ...change,
    })));
    assert.equal(chunkCount(msb.header.count), 3);
    for (const chunk of [0, 1, 2]) {
      const answer = ask({ chunk });
      assert.equal(answer.status, ChunkStatus.Ok);
      assert.equal(answer.entries.length / ENTRY, chunk < 2 ? C : 5);
    }
    assert.equal(ask({ chunk: 3 }).status, ChunkStatus.OutOfRange);
    assert.equal(ask({ chunk: 0xffff_ffff }).status, ChunkStatus.OutOfRange);
    assert.equal(ask({ headerHash: rng.bytes(32) }).status, ChunkStatus.UnknownMsb);
    assert.equal(ask({ epoch: msb.header.epoch + 1 }).status, ChunkStatus.UnknownMsb);
    assert.equal(ask({ shard: msb.header.shard + 1 }).status, ChunkStatus.UnknownMsb);
    assert.deepEqual(msb.server.stats.refused, 5);
    assert.equal(codeOf(() => msb.server.serve(new Uint8Array(3))), "MSB_BAD_REQUEST");
  });

  it("answers each chunk of the decisions section (33-byte leaves, their own tree) and refuses an index past it", () => {
    const msb = msbOf(rng, 3, 5, C + 2);
    const ask = (chunk: number) => decodeChunkAnswer(msb.server.serve(encodeChunkRequest({
      section: MsbSection.Decisions, shard: msb.header.shard, epoch: msb.header.epoch, headerHash: msb.server.headerHash, chunk,
    })));
    assert.equal(ask(0).entries.length, C * DECISION);
    assert.ok(Buffer.from(ask(1).entries).equals(Buffer.from(msb.decisions.entries.subarray(C * DECISION))));
    assert.equal(ask(1).section, MsbSection.Decisions);
    assert.equal(ask(2).status, ChunkStatus.OutOfRange);
  });

  it("refuses to serve a body or decisions that are not its header's", () => {
    const msb = msbOf(rng, 10);
    const other = randomEntries(rng, 10);
    assert.equal(codeOf(() => new MsbChunkServer(msb.header, other, msb.decisions.entries)), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => new MsbChunkServer(msb.header, msb.snapshot.entries.subarray(ENTRY), msb.decisions.entries)), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => new MsbChunkServer(msb.header, msb.snapshot.entries, randomDecisions(rng, 7).entries)), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => new MsbChunkServer(msb.header, msb.snapshot.entries, msb.decisions.entries.subarray(DECISION))), "MSB_BAD_INPUT");
  });
});

describe("MSB bootstrap fetch", () => {
  const rng = SeededRng.fromSeed(`${seed}/fetch`);

  it("downloads bodies of 0, 1, C − 1, C, C + 1, 10k and 100k entries from honest servers, byte for byte", async () => {
    for (const count of [0, 1, C - 1, C, C + 1, 10_000, 100_000]) {
      const msb = msbOf(rng, count);
      const { body, error, network } = await fetchFrom(msb, { a: honest(msb.server), b: honest(msb.server) }, ["a", "b"], 3);
      assert.equal(error, undefined, `${count} entries`);
      assertWhole(msb, body);
      const report = body!.report;
      assert.equal(report.chunks, chunkCount(count));
      assert.equal(report.requests, chunkCount(count));
      assert.equal(report.entryBytes, count * ENTRY);
      assert.ok(report.bytes >= report.entryBytes);
      assert.deepEqual(report.sources.map((s) => s.chunks), [Math.ceil(chunkCount(count) / 2), Math.floor(chunkCount(count) / 2)], "round robin");
      assert.ok(report.sources.every((s) => s.dropped === undefined));
      assert.ok(network.maxInFlight <= 3, `at most 3 requests in flight, saw ${network.maxInFlight}`);
      if (count === 100_000) assert.equal(network.maxInFlight, 3, "the bound is used");
    }
  });

  it("rejects each byzantine answer with its code, marks the source bad and takes the chunk from the next source", async () => {
    const msb = msbOf(rng, 2 * C + 100);
    const otherEpoch = msbOf(rng, 2 * C + 100, msb.header.epoch + 1);
    const flipEntry = rewrite(msb.server, (a) => {
      const entries = a.entries.slice();
      entries[entries.length - 1]! ^= 1;
      return { ...a, entries };
    });
    const flipHash = rewrite(msb.server, (a) => ({ ...a, hashes: a.hashes.map((h, i) => (i === 0 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 0x80 : b)) : h)) }));
    const dropEntry = rewrite(msb.server, (a) => ({ ...a, entries: a.entries.subarray(0, a.entries.length - ENTRY) }));
    const otherEpochChunk = (request: Uint8Array) => {
      const asked = decodeChunkRequest(request);
      return otherEpoch.server.serve(encodeChunkRequest({ ...asked, epoch: otherEpoch.header.epoch, headerHash: otherEpoch.server.headerHash }));
    };
    const otherEpochLying = rewrite(otherEpoch.server, (a) => ({ ...a, epoch: msb.header.epoch, headerHash: msb.server.headerHash }));
    const lyingOtherEpoch = (request: Uint8Array) => {
      const asked = decodeChunkRequest(request);
      return otherEpochLying(encodeChunkRequest({ ...asked, epoch: otherEpoch.header.epoch, headerHash: otherEpoch.server.headerHash }));
    };
    const cases: Array<[string, Behaviour, string]> = [
      ["a flipped entry", flipEntry, "MSB_BAD_CHUNK"],
      ["a flipped proof hash", flipHash, "MSB_BAD_CHUNK"],
      ["one entry short", dropEntry, "MSB_BAD_CHUNK"],
      ["a chunk of another epoch", otherEpochChunk, "MSB_BAD_CHUNK"],
      ["another epoch's chunk relabelled as this one", lyingOtherEpoch, "MSB_BAD_CHUNK"],
      ["garbage", () => new Uint8Array(50), "MSB_BAD_CHUNK"],
      ["a refusal", (request) => otherEpoch.server.serve(request), "MSB_CHUNK_REFUSED"],
      ["silence", () => undefined, "MSB_CHUNK_TIMEOUT"],
      ["a failing link", () => new Uint8Array(0), "MSB_SOURCE_FAILED"],
    ];
    for (const [name, behaviour, code] of cases) {
      const liar = name === "a failing link" ? "broken" : "liar";
      const { body, error, elapsed } = await fetchFrom(msb, { [liar]: behaviour, honest: honest(msb.server) }, [liar, "honest"], 1);
      assert.equal(error, undefined, name);
      assertWhole(msb, body);
      const [bad, good] = body!.report.sources;
      assert.equal(bad!.dropped?.code, code, name);
      assert.equal(bad!.chunks, 0, name);
      assert.equal(good!.chunks, 3, name);
      assert.equal(bad!.refusals, code === "MSB_CHUNK_REFUSED" ? 1 : 0, name);
      if (code === "MSB_CHUNK_TIMEOUT") assert.ok(elapsed >= MSB_CHUNK_TIMEOUT_MS, "the timeout ran on the virtual clock");
    }
  });

  it("fails with MSB_NO_SOURCE naming every source when all are bad, and with MSB_STATE_MISMATCH for a header that lies about its supply", async () => {
    const msb = msbOf(rng, C + 1);
    const { error } = await fetchFrom(msb, {
      silent: () => undefined,
      stranger: (request) => msbOf(rng, 3).server.serve(request),
      flipper: rewrite(msb.server, (a) => ({ ...a, entries: Uint8Array.from(a.entries, (b, i) => (i === 40 ? b ^ 4 : b)) })),
    });
    assert.equal(error?.code, "MSB_NO_SOURCE");
    const report = (error!.detail as { report: { sources: Array<{ source: string; dropped?: { code: string } }> } }).report;
    assert.deepEqual(report.sources.map((s) => [s.source, s.dropped?.code]),
      [["silent", "MSB_CHUNK_TIMEOUT"], ["stranger", "MSB_CHUNK_REFUSED"], ["flipper", "MSB_BAD_CHUNK"]]);
    assert.equal((await fetchFrom(msb, {}, [])).error?.code, "MSB_NO_SOURCE", "no source at all");
    assert.equal((await fetchFrom(msb, { a: honest(msb.server) }, ["a", "a"])).error?.code, "MSB_BAD_INPUT", "a source listed twice");

    const lying = { ...msb.header, supply: msb.header.supply + 1n };
    const lyingServer = new MsbChunkServer(lying, msb.snapshot.entries, msb.decisions.entries);
    const mismatch = await fetchFrom({ ...msb, header: lying, server: lyingServer }, { a: honest(lyingServer) });
    assert.equal(mismatch.error?.code, "MSB_STATE_MISMATCH");
  });

  it("runs between simulated peers over the simulator's transport: a byzantine and a crashed server are passed over", async () => {
    const msb = msbOf(rng, 3 * C + 17);
    const sim = new Simulator({ seed: `${seed}/peers`, defaultLink: { latency: { kind: "constant", ms: 20 }, duplication: 0.2 } });
    const instance = { protocol: "msb" as const, shard: msb.header.shard, epoch: 0 };
    for (const id of ["liar", "crashed", "honest"]) sim.addNode(id, (context) => serveChunks(context.transport.open(instance), msb.server));
    const fetcher = sim.addNode("fetcher", (context) => ({ clock: context.clock, source: new ChannelChunkSource(context.transport.open(instance)) }));
    sim.run({ until: 0 });
    sim.crash("crashed");
    // Every answer of the honest server arrives twice, so the ignoring is seen whatever the seed.
    sim.network.setLink("honest", "fetcher", { duplication: 1 });
    sim.network.intercept("liar", (_to, _type, payload) => {
      const answer = decodeChunkAnswer(payload);
      return encodeChunkAnswer({ ...answer, hashes: answer.hashes.slice(1) });
    });
    const { clock, source } = fetcher.instance!;
    const body = await drive(sim, fetchMsbBody({ header: msb.header, section: MsbSection.Utxos, sources: ["liar", "crashed", "honest"], network: source, clock }));
    assertWhole(msb, body);
    assert.deepEqual(body.report.sources.map((s) => [s.source, s.dropped?.code, s.chunks]),
      [["liar", "MSB_BAD_CHUNK", 0], ["crashed", "MSB_CHUNK_TIMEOUT", 0], ["honest", undefined, 4]]);
    assert.equal(source.pending, 0, "the crashed server's request was cancelled at its timeout");
    assert.ok(source.ignored >= 4, "each honest answer's duplicate is ignored, not delivered twice");
  });
});

describe("MSB decisions fetch (section 1: the shard's Atomix phases)", () => {
  const rng = SeededRng.fromSeed(`${seed}/decisions`);
  const fetchDecisions = (msb: Msb, behaviours: Record<string, Behaviour>, order = Object.keys(behaviours)) => fetchFrom(msb, behaviours, order, 1, MsbSection.Decisions);
  const assertDecisions = (msb: Msb, body: BootstrappedBody | undefined): void => {
    assert.ok(body !== undefined, "the fetch succeeds");
    assert.equal(body.count, msb.header.decisions);
    assert.ok(Buffer.from(body.entries).equals(Buffer.from(msb.decisions.entries)), "the decisions are the header's, byte for byte");
  };

  it("downloads 0, 1, C and C + 1 decisions from honest servers, byte for byte, proved against the decisions root", async () => {
    for (const count of [0, 1, C, C + 1]) {
      const msb = msbOf(rng, 5, 5, count);
      const { body, error } = await fetchDecisions(msb, { a: honest(msb.server), b: honest(msb.server) });
      assert.equal(error, undefined, `${count} decisions`);
      assertDecisions(msb, body);
      assert.equal(body!.report.entryBytes, count * DECISION);
      assert.equal(body!.report.chunks, chunkCount(count));
    }
  });

  it("rejects a flipped phase byte, one decision short, UTXO entries relabelled as decisions and a UTXO answer to a decisions request (MSB_BAD_CHUNK), and takes the chunk from the next source", async () => {
    const msb = msbOf(rng, C + 40, 5, 2 * C + 9);
    const flipPhase = rewrite(msb.server, (a) => {
      const entries = a.entries.slice();
      entries[DECISION - 1]! ^= 1;
      return { ...a, entries };
    });
    const dropDecision = rewrite(msb.server, (a) => ({ ...a, entries: a.entries.subarray(0, a.entries.length - DECISION) }));
    const utxoAnswer = (request: Uint8Array) => msb.server.serve(encodeChunkRequest({ ...decodeChunkRequest(request), section: MsbSection.Utxos }));
    const utxosRelabelled = (request: Uint8Array) => {
      const answer = utxoAnswer(request).slice();
      answer[CHUNK_ANSWER_HEAD.offset.section] = MsbSection.Decisions;
      return answer;
    };
    // The UTXO chunk's leading bytes cut to whole decisions, proved with the UTXO section's hashes.
    const utxosAsDecisions = (request: Uint8Array) => {
      const answer = decodeChunkAnswer(utxoAnswer(request));
      const n = Math.min(Math.floor(answer.entries.length / DECISION), MSB_CHUNK_ENTRIES);
      return encodeChunkAnswer({ ...answer, section: MsbSection.Decisions, entries: answer.entries.subarray(0, n * DECISION) });
    };
    const cases: Array<[string, Behaviour]> = [
      ["a flipped phase byte", flipPhase],
      ["one decision short", dropDecision],
      ["UTXO entries relabelled as decisions (section byte)", utxosRelabelled],
      ["UTXO bytes re-encoded as decisions", utxosAsDecisions],
      ["a UTXO-section answer", utxoAnswer],
    ];
    for (const [name, behaviour] of cases) {
      const { body, error } = await fetchDecisions(msb, { liar: behaviour, honest: honest(msb.server) });
      assert.equal(error, undefined, name);
      assertDecisions(msb, body);
      const [bad, good] = body!.report.sources;
      assert.equal(bad!.dropped?.code, "MSB_BAD_CHUNK", name);
      assert.equal(bad!.chunks, 0, name);
      assert.equal(good!.chunks, 3, name);
    }
  });

  it("a header whose decisions count lies proves against no source (MSB_NO_SOURCE, each MSB_BAD_CHUNK); one committing a byte that is no phase fails MSB_STATE_MISMATCH", async () => {
    const msb = msbOf(rng, 5, 5, C);
    for (const decisions of [C + 1, C - 1, 1]) {
      const lying = { ...msb.header, decisions };
      const lyingHash = msbHeaderHash(lying);
      // A source serving the genuine decisions under the lying header's name.
      const relabel = rewrite(msb.server, (a) => ({ ...a, headerHash: lyingHash }));
      const asGenuine = (request: Uint8Array) => relabel(encodeChunkRequest({ ...decodeChunkRequest(request), headerHash: msb.server.headerHash }));
      const { error } = await fetchDecisions({ ...msb, header: lying }, { a: asGenuine, b: asGenuine });
      assert.equal(error?.code, "MSB_NO_SOURCE", `count ${decisions}`);
      const report = (error!.detail as { report: { sources: Array<{ dropped?: { code: string } }> } }).report;
      assert.deepEqual(report.sources.map((s) => s.dropped?.code), ["MSB_BAD_CHUNK", "MSB_BAD_CHUNK"], `count ${decisions}`);
    }
    const notPhases = msb.decisions.entries.slice();
    notPhases[ATOMIX_DECISION.offset.phase] = 9;
    const forged: MsbDecisions = { entries: notPhases, count: msb.decisions.count, root: merkleRoot(notPhases) };
    const unchecked = msbOf(rng, 5, 5, 0, forged);
    const mismatch = await fetchDecisions(unchecked, { a: honest(unchecked.server) });
    assert.equal(mismatch.error?.code, "MSB_STATE_MISMATCH");
  });

  it("fetches both sections at once over one channel of the simulator's transport (answers matched by section)", async () => {
    const msb = msbOf(rng, C + 3, 5, C + 5);
    const sim = new Simulator({ seed: `${seed}/decisions-peers`, defaultLink: { latency: { kind: "constant", ms: 20 } } });
    const instance = { protocol: "msb" as const, shard: msb.header.shard, epoch: 0 };
    sim.addNode("server", (context) => serveChunks(context.transport.open(instance), msb.server));
    const fetcher = sim.addNode("fetcher", (context) => ({ clock: context.clock, source: new ChannelChunkSource(context.transport.open(instance)) }));
    sim.run({ until: 0 });
    const { clock, source } = fetcher.instance!;
    const [utxos, decisions] = await drive(sim, Promise.all([MsbSection.Utxos, MsbSection.Decisions].map((section) =>
      fetchMsbBody({ header: msb.header, section, sources: ["server"], network: source, clock }))));
    assertWhole(msb, utxos);
    assertDecisions(msb, decisions);
    assert.equal(source.ignored, 0);
  });
});

/** The RFC 6962 root of packed decisions, without their checks (what a forging header would commit). */
function merkleRoot(packed: Uint8Array): Uint8Array {
  return merkleRootOfPackedLeaves(packed, DECISION);
}
