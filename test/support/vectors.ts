// What the randomized and vector-driven tests share: a replayable seed and the published vectors
// under test/vectors/ (each file names its source).
import { readFileSync } from "node:fs";

/** IOS_TEST_SEED when set, else a fresh one; printed with the command that replays it. */
export function testSeed(suite: string): string {
  const seed = process.env.IOS_TEST_SEED ?? `${suite.replaceAll(" ", "-")}-${Date.now()}`;
  console.log(`${suite} tests: seed ${seed} (replay with IOS_TEST_SEED=${seed})`);
  return seed;
}

/** The parsed JSON of test/vectors/`file` (read from the source tree, next to the compiled tests' dist/). */
export function readVectorFile<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../../../test/vectors/${file}`, import.meta.url), "utf8")) as T;
}
