import type { InitBackendOptions } from './init-backend';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasm: WasmModule | undefined;

/** Loads the wasm backend package (it registers the 'wasm' backend factory when first imported). */
export async function loadWasm(): Promise<WasmModule> {
  wasm ??= await import('@tensorflow/tfjs-backend-wasm');
  return wasm;
}

/**
 * Points the wasm backend at its binaries before it initialises: the caller's `wasmPaths`, or in
 * Node the package's own dist/ folder found by module resolution (so bundled or relocated code
 * still finds the .wasm files). Threads are requested where the platform runs threaded wasm.
 */
export async function configureWasm(opts: InitBackendOptions): Promise<void> {
  const mod = await loadWasm();
  if (opts.wasmPaths !== undefined) mod.setWasmPaths(opts.wasmPaths);
  else {
    const dir = await nodePackageDir('@tensorflow/tfjs-backend-wasm');
    if (dir !== null) mod.setWasmPaths(`${dir}/dist/`);
  }
  if (opts.threads !== undefined) mod.setThreadsCount(opts.threads);
}

/** wasm threads actually in use by the initialised backend. */
export async function wasmThreads(): Promise<number> {
  const mod = await loadWasm();
  return Math.max(1, mod.getThreadsCount());
}

async function nodePackageDir(name: string): Promise<string | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; cwd?: () => string } }).process;
  if (typeof proc?.versions?.node !== 'string') return null;
  try {
    const { createRequire } = await import(/* @vite-ignore */ 'node:module');
    const { dirname } = await import(/* @vite-ignore */ 'node:path');
    // Resolve from this module where possible, else from the working directory.
    const base = typeof __filename === 'string' ? __filename : `${proc.cwd?.() ?? '.'}/`;
    const req = createRequire(base);
    return dirname(req.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

