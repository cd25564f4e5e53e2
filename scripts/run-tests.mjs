// Runs the compiled test files (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20's `node --test` takes no globs, so the files are listed here. Arguments filter
// the files by substring: `node scripts/run-tests.mjs merkle sha256`.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const testRoot = join(root, "dist", "test");

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return collect(path);
    return e.name.endsWith(".test.js") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = collect(testRoot)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testRoot, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], {
  stdio: "inherit",
  cwd: root,
});
process.exit(result.status ?? 1);
