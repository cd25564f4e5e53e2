// Runs the benny benchmarks (dist/bench/*.bench.js) one after another, each in its own
// process so one benchmark's heap and JIT state do not colour the next. Arguments filter by
// substring: `npm run bench -- sha256`. Each benchmark writes its JSON to bench/results/.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const benchRoot = join(root, "dist", "bench");
const filters = process.argv.slice(2);
const files = readdirSync(benchRoot)
  .filter((f) => f.endsWith(".bench.js"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
let status = 0;
for (const file of files) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, [join(benchRoot, file)], { stdio: "inherit", cwd: root });
  if (result.status !== 0) status = 1;
}
process.exit(status);
