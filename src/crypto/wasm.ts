/**
 * Loading of the AssemblyScript kernels (build/<kernel>.<flavor>.wasm).
 *
 * Every kernel is built twice with one export surface: a SIMD build (v128) and a scalar build.
 * The SIMD build is chosen when the engine validates a SIMD module; `IOS_WASM=scalar` forces the
 * scalar one. Instantiation is synchronous (`new WebAssembly.Instance`), so a kernel loads the
 * same way on the main thread and inside worker threads, at import time, without awaiting.
 * Compiled modules are cached per process; each caller gets its own instance and therefore its
 * own static buffers.
 */
import { readFileSync } from "node:fs";
import { IosError } from "../errors.js";

export type WasmFlavor = "simd" | "scalar";
export const WASM_FLAVORS: readonly WasmFlavor[] = ["simd", "scalar"];

/** Smallest module using a v128 instruction (i32x4.splat); validates only where SIMD exists. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

export function defaultFlavor(): WasmFlavor {
  if (process.env.IOS_WASM === "scalar") return "scalar";
  return simdSupported() ? "simd" : "scalar";
}

const buildDir = new URL("../../../build/", import.meta.url);
const modules = new Map<string, WebAssembly.Module>();

function compiledModule(kernel: string, flavor: WasmFlavor): WebAssembly.Module {
  const key = `${kernel}.${flavor}`;
  let module = modules.get(key);
  if (module === undefined) {
    const file = new URL(`${key}.wasm`, buildDir);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch {
      throw new IosError("WASM_NOT_BUILT", `kernel ${file.pathname} is missing: run \`npm run build\``);
    }
    module = new WebAssembly.Module(bytes);
    modules.set(key, module);
  }
  return module;
}

/** A fresh instance of a kernel. Imports cover AssemblyScript's `env.abort` and `env.seed`. */
export function instantiateKernel(kernel: string, flavor: WasmFlavor = defaultFlavor()): WebAssembly.Instance {
  return new WebAssembly.Instance(compiledModule(kernel, flavor), {
    env: {
      abort(_message: number, _file: number, line: number, column: number) {
        throw new Error(`wasm kernel ${kernel} aborted at ${line}:${column}`);
      },
      seed: () => Date.now(),
    },
  });
}
