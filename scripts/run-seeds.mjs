// Runs the whole-validator simulations over more seeds than CI does: `npm run test:seeds [-- N]`
// adds N seeds (default 20) to every seeded case of test/sim/whole-node*.test.ts. Each run
// prints its seeds; IOS_SIM_SEED=<seed> replays one. Needs a build (`npm run build`).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const extra = process.argv[2] ?? "20";
if (!/^[1-9][0-9]{0,3}$/.test(extra)) {
  console.error(`usage: npm run test:seeds [-- N]  (N: extra seeds per case, 1..9999), got ${JSON.stringify(extra)}`);
  process.exit(2);
}
const runner = fileURLToPath(new URL("./run-tests.mjs", import.meta.url));
const result = spawnSync(process.execPath, [runner, "sim/whole-node"], { stdio: "inherit", env: { ...process.env, WHOLE_NODE_SEEDS: extra } });
process.exit(result.status ?? 1);
