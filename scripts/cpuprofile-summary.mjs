// Sums V8 .cpuprofile files (e.g. the validators' profiles of ATOMIX_BENCH_PROFILE=DIR: one directory
// per validator, one file per thread) by function: profiler milliseconds, inclusive by default.
//
//   node scripts/cpuprofile-summary.mjs [--self] [--thread K] [--top N] [--filter TEXT] [--children NAME] PATH...
//
// PATH: .cpuprofile files or directories holding them (searched one level down, so DIR/run-1-v*
// works). --thread K keeps the files of thread K only (the number after the pid in V8's file name:
// 0 is the main thread). --children NAME splits the time of the functions whose "name@file:line"
// starts with NAME by the function each sample was in directly below them ("(self)" when in it).
// Samples are wall-clock ticks of a running thread: on a loaded machine every figure is inflated
// alike, so compare shares, not milliseconds, across runs.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args.splice(at, 2)[1];
};
const flag = (name) => {
  const at = args.indexOf(name);
  return at >= 0 && args.splice(at, 1).length === 1;
};
const self = flag("--self");
const thread = option("--thread");
const top = Number(option("--top") ?? 40);
const filter = option("--filter");
const children = option("--children");
if (args.length === 0) {
  console.error("usage: node scripts/cpuprofile-summary.mjs [--self] [--thread K] [--top N] [--filter TEXT] [--children NAME] PATH...");
  process.exit(2);
}

const files = [];
const visit = (path, depth) => {
  if (statSync(path).isDirectory()) {
    if (depth < 2) for (const entry of readdirSync(path)) visit(join(path, entry), depth + 1);
  } else if (path.endsWith(".cpuprofile") && (thread === undefined || basename(path).split(".")[4] === thread)) files.push(path);
};
for (const path of args) visit(path, 0);

/** "name@file:line", the file without its directories. */
const nameOf = ({ callFrame }) => `${callFrame.functionName || "(anonymous)"}@${basename(callFrame.url) || "native"}:${callFrame.lineNumber + 1}`;
const totals = new Map();
const add = (key, ms) => totals.set(key, (totals.get(key) ?? 0) + ms);
let sampled = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** The names on a sample's stack, leaf first. */
  const stacks = new Map();
  const stackOf = (id) => {
    let stack = stacks.get(id);
    if (stack === undefined) {
      stack = [];
      for (let at = id; at !== undefined; at = parent.get(at)) stack.push(nameOf(byId.get(at)));
      stacks.set(id, stack);
    }
    return stack;
  };
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    sampled += ms;
    const stack = stackOf(id);
    if (children !== undefined) {
      const at = stack.findIndex((name) => name.startsWith(children));
      if (at >= 0) add(at === 0 ? "(self)" : stack[at - 1], ms);
    } else if (self) add(stack[0], ms);
    else for (const name of new Set(stack)) add(name, ms);
  });
}
const rows = [...totals].filter(([name]) => filter === undefined || name.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${files.length} files, ${sampled.toFixed(0)} ms sampled${children === undefined ? "" : `; below ${children}`}`);
for (const [name, ms] of rows) console.log(`${ms.toFixed(0).padStart(9)} ${((100 * ms) / sampled).toFixed(1).padStart(5)} %  ${name}`);
