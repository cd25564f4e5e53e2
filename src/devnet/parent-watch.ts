/**
 * Preloaded (`node --import`) into every validator process the devnet launcher spawns, so a
 * validator never outlives its launcher: it polls its parent PID and, once the parent is gone
 * (the process was re-parented, e.g. after the launcher was SIGKILLed), sends itself SIGTERM,
 * which `ios node` handles as a clean stop. If that stop hangs, the process exits anyway.
 * Polling `process.ppid` is portable (no prctl(PR_SET_PDEATHSIG), which Node does not expose).
 */
const POLL_MS = 250;
/** A clean stop drains the pipeline and flushes LMDB: a few seconds at most on a devnet. */
const FORCED_EXIT_MS = 10_000;

const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  process.kill(process.pid, "SIGTERM");
  setTimeout(() => process.exit(1), FORCED_EXIT_MS).unref();
}, POLL_MS);
timer.unref();
