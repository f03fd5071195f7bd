/**
 * The switch under the thread gate. tfjs-backend-wasm hands one global `pthreadpool*`
 * (`tfjs::backend::threadpool`) to every XNNPACK call, and XNNPACK runs a call on the calling
 * thread alone when that pointer is NULL. Its address is read from the module's own code: the
 * exported `get_threads_count` is `if (threadpool == NULL) return -1; return
 * pthreadpool_get_threads_count(threadpool);`, whose first instructions are `i32.const ADDR;
 * i32.load`. A switch checks itself before use: with the pointer cleared `get_threads_count()`
 * must answer -1, and with it restored the thread count.
 */

/** Finds `tfjs::backend::threadpool`'s address in the wasm binary, or returns null. */
export function threadpoolAddress(wasm: Uint8Array): number | null {
  let p = 8;
  const u32 = () => {
    let r = 0;
    let s = 0;
    let b: number;
    do {
      b = wasm[p++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80 && p < wasm.length);
    return r;
  };
  const i32 = () => {
    let r = 0;
    let s = 0;
    let b: number;
    do {
      b = wasm[p++];
      r |= (b & 0x7f) << s;
      s += 7;
    } while (b & 0x80);
    return s < 32 && b & 0x40 ? r | (-1 << s) : r;
  };
  const name = () => {
    const n = u32();
    const out = new TextDecoder().decode(wasm.subarray(p, p + n));
    p += n;
    return out;
  };
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) return null;
  let importedFuncs = 0;
  let target = -1;
  let code = -1;
  while (p < wasm.length) {
    const id = wasm[p++];
    const size = u32(); // read before p is used: the section starts after its size
    const end = p + size;
    if (id === 2) {
      for (let i = u32(); i > 0; i--) {
        name();
        name();
        const kind = wasm[p++];
        if (kind === 0) (u32(), importedFuncs++);
        else if (kind === 1) (p++, limits());
        else if (kind === 2) limits();
        else if (kind === 3) p += 2;
        else return null;
      }
    } else if (id === 7) {
      for (let i = u32(); i > 0; i--) {
        const n = name();
        const kind = wasm[p++];
        const index = u32();
        if (kind === 0 && n === 'get_threads_count') target = index;
      }
    } else if (id === 10) code = p;
    p = end;
  }
  function limits() {
    const flags = wasm[p++];
    u32();
    if (flags & 1) u32();
  }
  if (target < importedFuncs || code < 0) return null;
  p = code;
  const bodies = u32();
  for (let i = 0; i < bodies; i++) {
    const size = u32();
    if (i !== target - importedFuncs) {
      p += size;
      continue;
    }
    for (let groups = u32(); groups > 0; groups--) (u32(), p++);
    if (wasm[p++] !== 0x41) return null; // i32.const
    const base = i32();
    if (wasm[p++] !== 0x28) return null; // i32.load
    u32(); // alignment
    return base + u32();
  }
  return null;
}

interface WasmModule {
  wasmMemory?: WebAssembly.Memory;
  HEAP32?: Int32Array;
  _get_threads_count: () => number;
}

/** Turns the pool on and off for the calling thread's XNNPACK calls. */
export class ThreadSwitch {
  private constructor(
    private readonly module: WasmModule,
    private readonly index: number,
    private readonly pool: number,
    readonly threads: number,
  ) {}

  /** A switch for `module` after a self-check, or why there cannot be one. */
  static create(module: WasmModule, address: number | null): ThreadSwitch | string {
    if (address === null) return 'threadpool pointer not found in the wasm binary';
    const sw = new ThreadSwitch(module, address >> 2, 0, 0);
    const pool = sw.heap()[sw.index];
    const threads = module._get_threads_count();
    if (pool === 0 || threads < 2) return `no thread pool at ${address} (threads ${threads})`;
    sw.heap()[sw.index] = 0;
    const off = module._get_threads_count();
    sw.heap()[sw.index] = pool;
    if (off !== -1 || module._get_threads_count() !== threads) return `self-check failed at ${address} (${off})`;
    return new ThreadSwitch(module, address >> 2, pool, threads);
  }

  private heap(): Int32Array {
    // The memory can grow (a new buffer): view it afresh.
    const buffer = this.module.wasmMemory?.buffer ?? this.module.HEAP32?.buffer;
    return new Int32Array(buffer as ArrayBufferLike);
  }

  get on(): boolean {
    return this.heap()[this.index] !== 0;
  }

  set(on: boolean): void {
    this.heap()[this.index] = on ? this.pool : 0;
  }
}
