/** Polls `predicate` every 200 ms until it holds or `timeoutMs` passes (a liveness bound for tests over real processes, not a timing assertion); the last answer is returned. */
export async function until(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return predicate();
}
