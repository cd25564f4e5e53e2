/**
 * BENCH_V8_THREADS=on|off overrides the devnet launcher's choice of V8 background threads in each
 * validator (`v8BackgroundThreadsByDefault`: off when the validators are at least as many as the
 * cores), so a bench can set both side by side; unset, the launcher's default applies.
 */
export function v8ThreadsFromEnv(): { readonly v8BackgroundThreads?: boolean } {
  const value = process.env.BENCH_V8_THREADS;
  if (value === undefined || value === "") return {};
  if (value !== "on" && value !== "off") throw new Error(`BENCH_V8_THREADS must be "on" or "off", got ${JSON.stringify(value)}`);
  return { v8BackgroundThreads: value === "on" };
}
