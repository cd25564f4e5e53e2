// Builds every WASM kernel: each folder assembly/<kernel>/ with an index.ts becomes
// build/<kernel>.simd.wasm and build/<kernel>.scalar.wasm (asconfig.json targets "simd" and
// "scalar"). Both builds share one export surface; code branches on ASC_FEATURE_SIMD.
// A kernel is rebuilt only when its folder, a shared file directly under assembly/ or
// asconfig.json is newer than its output. Arguments name kernels to build (default: all).
import asc from "assemblyscript/asc";
import { mkdirSync, readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const assemblyDir = join(root, "assembly");
const buildDir = join(root, "build");
mkdirSync(buildDir, { recursive: true });

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const requested = process.argv.slice(2);
const kernels = readdirSync(assemblyDir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(assemblyDir, e.name, "index.ts")))
  .map((e) => e.name)
  .filter((name) => requested.length === 0 || requested.includes(name));
const sharedMtime = Math.max(
  statSync(join(root, "asconfig.json")).mtimeMs,
  ...readdirSync(assemblyDir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => statSync(join(assemblyDir, e.name)).mtimeMs),
);

let failed = false;
for (const kernel of kernels) {
  const sourcesMtime = Math.max(sharedMtime, newestMtime(join(assemblyDir, kernel)));
  for (const target of ["simd", "scalar"]) {
    const outFile = join(buildDir, `${kernel}.${target}.wasm`);
    if (existsSync(outFile) && statSync(outFile).mtimeMs >= sourcesMtime) continue;
    const { error, stderr } = await asc.main([
      join(assemblyDir, kernel, "index.ts"),
      "--config", join(root, "asconfig.json"),
      "--target", target,
      "--outFile", outFile,
    ]);
    if (error) {
      failed = true;
      process.stderr.write(`asc failed for ${kernel} (${target}):\n${stderr.toString()}\n`);
    } else {
      process.stdout.write(`built ${outFile}\n`);
    }
  }
}
if (failed) process.exit(1);
