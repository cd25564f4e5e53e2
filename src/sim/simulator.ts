/**
 * The deterministic simulator: many protocol nodes in one process, on virtual time, over a
 * seeded faulty network (latency distributions, loss, duplication, reordering, partitions,
 * crashes and restarts). Protocol code receives `Transport`, `Clock` and `Rng` and cannot tell
 * it is simulated, so the consensus, DRP and Atomix protocols are tested here unchanged.
 *
 * Determinism. Everything that happens is an event on one agenda ordered by (virtual time,
 * sequence number); randomness comes only from one root `SeededRng`, forked per purpose
 * ("network", each node incarnation, each `rng(purpose)` the scenario asks for). A scenario that
 * uses no other source of nondeterminism (no Math.random, Date, real timers or I/O, no iteration
 * over unordered sources) is a pure function of its seed; `traceHash()` fingerprints the run.
 *
 * Logging. Each node incarnation gets a logger (a child of `sim.logs`, bound to node and
 * incarnation, stamped with virtual time) and a HandlerFailures: a message handler that throws is
 * logged and counted there and the network delivers on, as the real transport does.
 *
 * Replaying a failing run. Every failure the simulator raises — an invariant returning false
 * (SIM_INVARIANT_VIOLATED) or a timer, scripted action or node factory throwing
 * (SIM_EVENT_FAILED) — names the seed, the event number and the virtual time in its message and
 * in `detail`. To replay it:
 *   1. run the same scenario with that seed: tests take it from `simSeed(fallback)`, so
 *      `IOS_SIM_SEED=<seed> node scripts/run-tests.mjs <test>` reruns exactly the failing run;
 *   2. pass `log: console.log` in the options to print every event (deliveries, drops with
 *      their reason, timers, crashes, partitions) up to the failure;
 *   3. to stop just before it, `runUntil(() => sim.eventCount === event - 1)` and inspect the
 *      nodes (`sim.node(id).instance`) and `sim.network.stats()`.
 * Two runs that should be identical but are not diverge at the first differing log line.
 */
import { IosError } from "../errors.js";
import { HandlerFailures } from "../log/handler-failures.js";
import { MemoryLog, type Logger } from "../log/logger.js";
import type { PeerId, Transport } from "../net/interface.js";
import type { Clock, Rng } from "../runtime/interface.js";
import { SeededRng, type Seed } from "../runtime/seeded-rng.js";
import type { SimErrorCode, SimFailureDetail } from "./errors.js";
import { EventQueue } from "./event-queue.js";
import type { LinkConfig } from "./link.js";
import { SimNetwork, type NetworkHost } from "./network.js";
import { TraceKind, TraceRecorder } from "./trace.js";
import { VirtualClock, type ClockHost } from "./virtual-clock.js";

/** What a node incarnation is built from. */
export interface NodeContext {
  readonly id: PeerId;
  /** 0 at the first start, +1 on every restart. */
  readonly incarnation: number;
  readonly transport: Transport;
  readonly clock: Clock;
  /** This incarnation's own stream, forked from the seed by node id and incarnation. */
  readonly rng: Rng;
  /** This incarnation's logger: `sim.logs`, bound to { node, incarnation }. */
  readonly logger: Logger;
  /** Where exceptions of this incarnation's message handlers are logged and counted. */
  readonly failures: HandlerFailures;
}

/** Builds a node's protocol objects on a fresh transport/clock; persistent state is the caller's. */
export type NodeFactory<T> = (context: NodeContext) => T;

export type NodeState = "pending" | "up" | "crashed";

export interface SimNode<T> {
  readonly id: PeerId;
  /** "pending" until the start event runs, then "up" or "crashed". */
  readonly state: NodeState;
  readonly incarnation: number;
  /** The running incarnation's object (what the factory returned); undefined unless up. */
  readonly instance: T | undefined;
}

export interface SimulatorOptions {
  seed: Seed;
  /** Fields of the default link that differ from a perfect 1 ms link. */
  defaultLink?: Partial<LinkConfig>;
  /** Receives one line per event: for replaying a run by its seed. */
  log?: (line: string) => void;
}

export interface RunLimits {
  /** Stop before any event later than this virtual time; time then reads `until`. */
  until?: number;
  /** Stop after this many events (default 10,000,000: a runaway protocol ends the run). */
  maxEvents?: number;
}

export interface RunResult {
  /** "idle": nothing left to do; "until": next event is past `until`; "max-events": budget spent. */
  reason: "idle" | "until" | "max-events";
  /** Events processed by this call. */
  events: number;
  now: number;
}

const DEFAULT_MAX_EVENTS = 10_000_000;

/** The seed to run with: `IOS_SIM_SEED` when set (to replay a failure), else `fallback`. */
export function simSeed(fallback: Seed): Seed {
  const fromEnv = process.env["IOS_SIM_SEED"];
  if (fromEnv === undefined || fromEnv === "") return fallback;
  return /^\d+$/.test(fromEnv) && Number.isSafeInteger(Number(fromEnv)) ? Number(fromEnv) : fromEnv;
}

class NodeSlot<T> implements SimNode<T> {
  state: NodeState = "pending";
  incarnation = -1;
  instance: T | undefined;
  clock: VirtualClock | undefined;

  constructor(
    readonly id: PeerId,
    readonly index: number,
    public factory: NodeFactory<T>,
  ) {}
}

interface Invariant {
  readonly name: string;
  readonly check: () => boolean | void;
  readonly every: number;
}

export class Simulator {
  readonly seed: Seed;
  readonly network: SimNetwork;
  /** Every node's log entries, stamped with virtual time. */
  readonly logs: MemoryLog;
  private readonly root: SeededRng;
  private readonly queue = new EventQueue();
  private readonly trace: TraceRecorder;
  private readonly slots = new Map<PeerId, NodeSlot<unknown>>();
  private readonly invariants: Invariant[] = [];
  private time = 0;
  private sequence = 0;
  private processed = 0;
  private timerIds = 0;
  private running = false;
  /** The scheduling surface handed to the network and the clocks. */
  private readonly host: NetworkHost & ClockHost;

  constructor(options: SimulatorOptions) {
    if (typeof options !== "object" || options === null) {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "Simulator takes an options object with a seed");
    }
    this.root = SeededRng.fromSeed(options.seed);
    this.seed = options.seed;
    if (options.log !== undefined && typeof options.log !== "function") {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "log must be a function");
    }
    this.trace = new TraceRecorder(options.log);
    this.host = {
      now: () => this.time,
      schedule: (atMs, fire) => this.enqueue(atMs, fire),
      allocateTimerId: () => ++this.timerIds,
      trace: this.trace,
    };
    this.network = new SimNetwork(this.host, this.root.fork("network"), options.defaultLink);
    this.logs = new MemoryLog({ clock: { now: () => this.time } });
  }

  /** Virtual milliseconds since the start of the run. */
  now(): number {
    return this.time;
  }

  /** Events processed so far (void ones — cancelled timers — not counted). */
  get eventCount(): number {
    return this.processed;
  }

  /** Events queued, including timers since cancelled. */
  get pendingEvents(): number {
    return this.queue.size;
  }

  /**
   * A stream for the scenario's own choices (workloads, fault schedules), derived from the seed;
   * each call with one purpose starts the same stream again.
   */
  rng(purpose: string): SeededRng {
    return this.root.fork(`scenario/${purpose}`);
  }

  /** Hex SHA-256 over every event so far. */
  traceHash(): string {
    return this.trace.digest();
  }

  /**
   * Registers a node; its factory runs as the node's start event at the current virtual time, so
   * every node added before `run` is known to the network when any of them starts.
   */
  addNode<T>(id: PeerId, factory: NodeFactory<T>): SimNode<T> {
    if (typeof factory !== "function") throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "a node factory must be a function");
    this.network.register(id);
    const slot = new NodeSlot<T>(id, this.network.indexOf(id), factory);
    this.slots.set(id, slot as NodeSlot<unknown>);
    this.enqueue(this.time, () => {
      this.startIncarnation(slot, TraceKind.start);
      return true;
    });
    return slot;
  }

  node<T>(id: PeerId): SimNode<T> {
    return this.slot(id) as NodeSlot<T>;
  }

  /** Ids of all nodes, in the order added. */
  nodeIds(): PeerId[] {
    return this.network.nodes();
  }

  /**
   * Crashes a running node now: its timers never fire, its transport is closed (its handlers stop,
   * its sends are dropped), messages in flight to it are dropped on arrival.
   */
  crash(id: PeerId): void {
    const slot = this.slot(id);
    if (slot.state !== "up") throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is ${slot.state}, only a running node can crash`);
    slot.clock!.stop();
    this.network.detach(id);
    slot.state = "crashed";
    slot.instance = undefined;
    slot.clock = undefined;
    this.trace.record(TraceKind.crash, this.time, [slot.index, slot.incarnation]);
    if (this.trace.logging) this.trace.log(`t=${this.time} crash ${id} incarnation=${slot.incarnation}`);
  }

  /**
   * Pauses a running node now, as SIGSTOP does a process: its timers come due but wait, messages
   * reaching it and messages it sends wait, all in order, until `resume`; nothing is lost.
   */
  pause(id: PeerId): void {
    const slot = this.slot(id);
    if (slot.state !== "up") throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is ${slot.state}, only a running node can pause`);
    this.network.pause(id);
    slot.clock!.freeze();
    this.trace.record(TraceKind.script, this.time, [slot.index], new TextEncoder().encode("pause"));
    if (this.trace.logging) this.trace.log(`t=${this.time} pause ${id}`);
  }

  /** Resumes a paused node now (SIGCONT): its due timers fire, then what waited on the wire moves, in order. */
  resume(id: PeerId): void {
    const slot = this.slot(id);
    if (slot.state !== "up" || !this.network.isPaused(id)) throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is not paused`);
    // A resumed event loop runs its due timers before it polls its sockets.
    slot.clock!.thaw();
    this.network.resume(id);
    this.trace.record(TraceKind.script, this.time, [slot.index], new TextEncoder().encode("resume"));
    if (this.trace.logging) this.trace.log(`t=${this.time} resume ${id}`);
  }

  /**
   * Starts a crashed node again now, as a new incarnation with the same identity: a fresh
   * transport, clock and rng handed to `factory` (default: the factory used before).
   */
  restart<T>(id: PeerId, factory?: NodeFactory<T>): SimNode<T> {
    const slot = this.slot(id) as NodeSlot<T>;
    if (slot.state !== "crashed") throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is ${slot.state}, only a crashed node can restart`);
    if (factory !== undefined) {
      if (typeof factory !== "function") throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "a node factory must be a function");
      slot.factory = factory;
    }
    this.startIncarnation(slot, TraceKind.restart);
    return slot;
  }

  /** Runs `action` at virtual time now + `delayMs` (a scripted fault, a workload step). */
  schedule(delayMs: number, label: string, action: () => void): void {
    if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `delay must be a finite number of milliseconds >= 0, got ${String(delayMs)}`);
    }
    if (typeof action !== "function") throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "a scheduled action must be a function");
    const labelBytes = new TextEncoder().encode(String(label));
    this.enqueue(this.time + delayMs, () => {
      this.trace.record(TraceKind.script, this.time, [], labelBytes);
      if (this.trace.logging) this.trace.log(`t=${this.time} script ${label}`);
      action();
      return true;
    });
  }

  /**
   * Checks `check` after every `every`-th event (default every event); returning false or
   * throwing stops the run with SIM_INVARIANT_VIOLATED naming the seed and the event.
   */
  addInvariant(name: string, check: () => boolean | void, options: { every?: number } = {}): void {
    const every = options.every ?? 1;
    if (typeof check !== "function") throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "an invariant must be a function");
    if (!Number.isSafeInteger(every) || every < 1) {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `invariant interval must be a positive integer, got ${String(every)}`);
    }
    this.invariants.push({ name: String(name), check, every });
  }

  /** Processes events in order until idle or a limit is reached. */
  run(limits: RunLimits = {}): RunResult {
    const { until, maxEvents } = this.checkLimits(limits);
    const before = this.processed;
    const reason = this.loop(until, maxEvents, undefined);
    return { reason: reason === "predicate" ? "idle" : reason, events: this.processed - before, now: this.time };
  }

  /**
   * Processes events until `predicate` holds (checked before the first event and after each);
   * returns false if the run went idle or hit a limit first.
   */
  runUntil(predicate: () => boolean, limits: RunLimits = {}): boolean {
    if (typeof predicate !== "function") throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "runUntil takes a predicate function");
    const { until, maxEvents } = this.checkLimits(limits);
    return this.loop(until, maxEvents, predicate) === "predicate";
  }

  private loop(
    until: number,
    maxEvents: number,
    predicate: (() => boolean) | undefined,
  ): RunResult["reason"] | "predicate" {
    if (this.running) throw new IosError<SimErrorCode>("SIM_REENTRANT_RUN", "run/runUntil called from inside a simulation event");
    this.running = true;
    try {
      let budget = maxEvents;
      for (;;) {
        if (predicate !== undefined && predicate()) return "predicate";
        if (budget === 0) return "max-events";
        const next = this.queue.peek();
        if (next === undefined || next.time > until) {
          if (until !== Infinity) this.time = until;
          return next === undefined ? "idle" : "until";
        }
        this.queue.pop();
        this.time = next.time;
        let happened: boolean;
        try {
          happened = next.fire();
        } catch (error) {
          throw this.eventFailure(error);
        }
        if (happened) {
          this.processed++;
          budget--;
          this.checkInvariants();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private startIncarnation<T>(slot: NodeSlot<T>, kind: typeof TraceKind.start | typeof TraceKind.restart): void {
    const logger = this.logs.logger.child({ node: slot.id, incarnation: slot.incarnation + 1 });
    const failures = new HandlerFailures(logger);
    const transport = this.network.attach(slot.id, failures);
    const incarnation = transport.incarnation;
    const clock = new VirtualClock(this.host, slot.index, slot.id);
    slot.state = "up";
    slot.incarnation = incarnation;
    slot.clock = clock;
    this.trace.record(kind, this.time, [slot.index, incarnation]);
    if (this.trace.logging) {
      this.trace.log(`t=${this.time} ${kind === TraceKind.start ? "start" : "restart"} ${slot.id} incarnation=${incarnation}`);
    }
    const rng = this.root.fork(`node/${slot.id}/${incarnation}`);
    slot.instance = slot.factory({ id: slot.id, incarnation, transport, clock, rng, logger, failures });
  }

  private enqueue(atMs: number, fire: () => boolean): void {
    if (!(atMs >= this.time)) throw new Error(`invariant violated: event scheduled in the past (${atMs} < ${this.time})`);
    this.queue.push({ time: atMs, seq: this.sequence++, fire });
  }

  private checkInvariants(): void {
    for (const invariant of this.invariants) {
      if (this.processed % invariant.every !== 0) continue;
      let holds: boolean;
      let cause: unknown;
      try {
        holds = invariant.check() !== false;
      } catch (error) {
        holds = false;
        cause = error;
      }
      if (!holds) {
        const why = cause === undefined ? "" : `: ${cause instanceof Error ? cause.message : String(cause)}`;
        const failure = new IosError<SimErrorCode, SimFailureDetail>(
          "SIM_INVARIANT_VIOLATED",
          `invariant "${invariant.name}" violated after event ${this.processed} at t=${this.time} ms${why}; ` +
            `replay with seed ${JSON.stringify(this.seed)}`,
          { seed: this.seed, event: this.processed, time: this.time, invariant: invariant.name },
        );
        if (cause !== undefined) failure.cause = cause;
        throw failure;
      }
    }
  }

  private eventFailure(error: unknown): IosError<SimErrorCode, SimFailureDetail> {
    const event = this.processed + 1;
    const failure = new IosError<SimErrorCode, SimFailureDetail>(
      "SIM_EVENT_FAILED",
      `event ${event} at t=${this.time} ms threw: ${error instanceof Error ? error.message : String(error)}; ` +
        `replay with seed ${JSON.stringify(this.seed)}`,
      { seed: this.seed, event, time: this.time },
    );
    failure.cause = error;
    return failure;
  }

  private checkLimits(limits: RunLimits): { until: number; maxEvents: number } {
    if (typeof limits !== "object" || limits === null) throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "run limits must be an object");
    const until = limits.until ?? Infinity;
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (typeof until !== "number" || Number.isNaN(until) || until < this.time) {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `until must be a virtual time >= now (${this.time}), got ${String(until)}`);
    }
    if (!(maxEvents === Infinity || (Number.isSafeInteger(maxEvents) && maxEvents >= 0))) {
      throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `maxEvents must be a non-negative integer, got ${String(maxEvents)}`);
    }
    return { until, maxEvents };
  }

  private slot(id: PeerId): NodeSlot<unknown> {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new IosError<SimErrorCode>("SIM_UNKNOWN_NODE", `no node ${String(id)} in the simulation`);
    return slot;
  }
}
