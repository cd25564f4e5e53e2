import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a test over real processes and, if it fails, keeps a copy of its directory (data
 * directories, validators' logs) with the logs it holds in memory (`logs`: file name → text), and
 * names the copy in the failure: a flake seen once in a CI run can then be traced, while the test's
 * own cleanup still removes its directory.
 */
export async function keepingOnFailure<T>(root: string, logs: () => Record<string, string>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const kept = mkdtempSync(join(tmpdir(), "ios-failed-"));
    cpSync(root, kept, { recursive: true });
    for (const [name, text] of Object.entries(logs())) writeFileSync(join(kept, name), text);
    if (error instanceof Error) error.message += `\n(the test's files and logs are kept in ${kept})`;
    throw error;
  }
}
