/**
 * A small WebAssembly assembler for our SIMD kernels: functions written as flat WAT instruction
 * text (the subset our kernels use), assembled to a module that imports the wasm backend's own
 * memory, so a kernel reads and writes tensors where they lie on tfjs's heap. No toolchain at
 * build or run time: the module is assembled when a backend first needs it.
 */

export type ValType = 'i32' | 'f32' | 'v128';

export interface WatFunction {
  name: string;
  /** Parameters in order, by name (`$a` in the body). */
  params: readonly (readonly [string, ValType])[];
  locals?: readonly (readonly [string, ValType])[];
  result?: ValType;
  /** Flat WAT instructions: `local.get $x`, `v128.load offset=16`, `block $done` ... `end`. */
  body: string;
}

export interface WatModule {
  functions: readonly WatFunction[];
  /** The imported memory `env.memory` is shared (tfjs's threaded build) or not. */
  sharedMemory: boolean;
}

const TYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

// Opcodes without immediates (one byte), and SIMD ones (0xfd prefix + LEB128 sub-opcode).
const PLAIN: Record<string, number> = {
  unreachable: 0x00, nop: 0x01, else: 0x05, end: 0x0b, return: 0x0f, drop: 0x1a, select: 0x1b,
  'i32.eqz': 0x45, 'i32.eq': 0x46, 'i32.ne': 0x47, 'i32.lt_s': 0x48, 'i32.lt_u': 0x49,
  'i32.gt_s': 0x4a, 'i32.gt_u': 0x4b, 'i32.le_s': 0x4c, 'i32.le_u': 0x4d, 'i32.ge_s': 0x4e,
  'i32.ge_u': 0x4f, 'i32.add': 0x6a, 'i32.sub': 0x6b, 'i32.mul': 0x6c, 'i32.div_u': 0x6e,
  'i32.rem_u': 0x70, 'i32.and': 0x71, 'i32.or': 0x72, 'i32.shl': 0x74, 'i32.shr_u': 0x76,
  'f32.abs': 0x8b, 'f32.neg': 0x8c, 'f32.sqrt': 0x91, 'f32.add': 0x92, 'f32.sub': 0x93,
  'f32.mul': 0x94, 'f32.div': 0x95, 'f32.min': 0x96, 'f32.max': 0x97,
};
const SIMD: Record<string, number> = {
  'i32x4.splat': 17, 'f32x4.splat': 19, 'f32x4.eq': 65, 'f32x4.lt': 67, 'f32x4.gt': 68,
  'v128.not': 77, 'v128.and': 78, 'v128.andnot': 79, 'v128.or': 80, 'v128.xor': 81,
  'v128.bitselect': 82, 'f32x4.ceil': 103, 'f32x4.floor': 104, 'f32x4.nearest': 106,
  'i32x4.shl': 171, 'i32x4.shr_s': 172, 'i32x4.add': 174, 'i32x4.sub': 177, 'i32x4.mul': 181,
  'f32x4.abs': 224, 'f32x4.neg': 225, 'f32x4.sqrt': 227, 'f32x4.add': 228, 'f32x4.sub': 229,
  'f32x4.mul': 230, 'f32x4.div': 231, 'f32x4.min': 232, 'f32x4.max': 233, 'f32x4.pmin': 234,
  'f32x4.pmax': 235,
  'i32x4.trunc_sat_f32x4_s': 248, 'f32x4.convert_i32x4_s': 250,
  // relaxed SIMD: a b + c, fused or not as the platform prefers
  'f32x4.relaxed_madd': 261,
};
// Memory access: opcode bytes and natural alignment (log2 bytes).
const MEMORY: Record<string, { op: number[]; align: number }> = {
  'i32.load': { op: [0x28], align: 2 },
  'f32.load': { op: [0x2a], align: 2 },
  'i32.store': { op: [0x36], align: 2 },
  'f32.store': { op: [0x38], align: 2 },
  'v128.load': { op: [0xfd, 0], align: 4 },
  'v128.load32_splat': { op: [0xfd, 9], align: 2 },
  'v128.store': { op: [0xfd, 11], align: 4 },
};
const LANE: Record<string, number> = { 'f32x4.extract_lane': 31, 'f32x4.replace_lane': 32 };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

const f32Bytes = (x: number) => [...new Uint8Array(new Float32Array([x]).buffer)];
const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

function fail(fn: string, what: string): never {
  throw new Error(`@fewstep/backends: assembling ${fn}: ${what}`);
}

/** The code of one function body (locals + instructions), without its size prefix. */
function assembleBody(f: WatFunction, funcIndex: ReadonlyMap<string, number>): number[] {
  const localIndex = new Map<string, number>();
  [...f.params, ...(f.locals ?? [])].forEach(([n], i) => localIndex.set(n, i));
  const tokens = f.body
    .replace(/;;[^\n]*/g, '')
    .split(/\s+/)
    .filter((t) => t.length > 0);
  const out: number[] = [];
  const labels: (string | null)[] = []; // innermost last
  let i = 0;
  const next = (what: string) => tokens[i++] ?? fail(f.name, `${what} expected at the end`);
  const local = () => {
    const t = next('a local');
    return localIndex.get(t) ?? fail(f.name, `unknown local ${t}`);
  };
  const depth = () => {
    const t = next('a label');
    const d = labels.lastIndexOf(t);
    return d >= 0 ? labels.length - 1 - d : fail(f.name, `unknown label ${t}`);
  };
  const memarg = (align: number) => {
    let offset = 0;
    while (i < tokens.length && /^(offset|align)=/.test(tokens[i])) {
      const [k, v] = tokens[i++].split('=');
      if (k === 'offset') offset = Number(v);
      else align = Math.log2(Number(v));
    }
    return [...uleb(align), ...uleb(offset)];
  };
  while (i < tokens.length) {
    const op = tokens[i++];
    if (op === 'block' || op === 'loop' || op === 'if') {
      out.push(op === 'block' ? 0x02 : op === 'loop' ? 0x03 : 0x04);
      labels.push(tokens[i]?.startsWith('$') ? tokens[i++] : null);
      out.push(0x40); // blocks take and leave nothing
    } else if (op === 'end') {
      out.push(0x0b);
      labels.pop();
    } else if (op === 'br' || op === 'br_if') out.push(op === 'br' ? 0x0c : 0x0d, ...uleb(depth()));
    else if (op === 'local.get' || op === 'local.set' || op === 'local.tee') {
      out.push(op === 'local.get' ? 0x20 : op === 'local.set' ? 0x21 : 0x22, ...uleb(local()));
    } else if (op === 'call') {
      const t = next('a function');
      out.push(0x10, ...uleb(funcIndex.get(t) ?? fail(f.name, `unknown function ${t}`)));
    } else if (op === 'i32.const') out.push(0x41, ...sleb(Number(next('an integer'))));
    else if (op === 'f32.const') out.push(0x43, ...f32Bytes(Number(next('a number'))));
    else if (op === 'v128.const') {
      if (next('a lane shape') !== 'f32x4') fail(f.name, 'v128.const takes f32x4 lanes');
      out.push(0xfd, 12);
      for (let l = 0; l < 4; l++) out.push(...f32Bytes(Number(next('a lane'))));
    } else if (op === 'i8x16.shuffle') {
      out.push(0xfd, 13);
      for (let l = 0; l < 16; l++) out.push(Number(next('a lane')));
    } else if (op in PLAIN) out.push(PLAIN[op]);
    else if (op in SIMD) out.push(0xfd, ...uleb(SIMD[op]));
    else if (op in MEMORY) out.push(...MEMORY[op].op, ...memarg(MEMORY[op].align));
    else if (op in LANE) out.push(0xfd, ...uleb(LANE[op]), Number(next('a lane index')));
    else fail(f.name, `unknown instruction ${op}`);
  }
  if (labels.length !== 0) fail(f.name, `${labels.length} block(s) not closed by end`);
  // Locals as runs of one type: (count, type) pairs.
  const runs: number[][] = [];
  for (const [, t] of f.locals ?? []) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === TYPE[t]) last[0]++;
    else runs.push([1, TYPE[t]]);
  }
  return [...vector(runs.map(([n, t]) => [...uleb(n), t])), ...out, 0x0b];
}

/** The module's bytes: imports env.memory, exports every function by its name. */
export function assembleModule(m: WatModule): Uint8Array<ArrayBuffer> {
  const funcIndex = new Map(m.functions.map((f, k) => [`$${f.name}`, k] as const));
  const signatures: string[] = [];
  const typeOf = m.functions.map((f) => {
    const sig = JSON.stringify([f.params.map(([, t]) => TYPE[t]), f.result ? [TYPE[f.result]] : []]);
    if (!signatures.includes(sig)) signatures.push(sig);
    return signatures.indexOf(sig);
  });
  const types = signatures.map((s) => {
    const [params, results] = JSON.parse(s) as number[][];
    return [0x60, ...vector(params.map((p) => [p])), ...vector(results.map((r) => [r]))];
  });
  // Memory limits: min 1 page; a shared memory must declare a maximum (the whole 4 GiB space).
  const limits = m.sharedMemory ? [0x03, 1, ...uleb(65536)] : [0x00, 1];
  const memoryImport = [...name('env'), ...name('memory'), 0x02, ...limits];
  const exports = m.functions.map((f, k) => [...name(f.name), 0x00, ...uleb(k)]);
  const bodies = m.functions.map((f) => {
    const b = assembleBody(f, funcIndex);
    return [...uleb(b.length), ...b];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(typeOf.map((t) => uleb(t)))),
    ...section(7, vector(exports)),
    ...section(10, vector(bodies)),
  ]);
}

/** The module as WAT text (to check the assembler against another one). */
export function moduleText(m: WatModule): string {
  const fn = (f: WatFunction) =>
    `(func $${f.name} (export "${f.name}")` +
    f.params.map(([n, t]) => ` (param ${n} ${t})`).join('') +
    (f.result ? ` (result ${f.result})` : '') +
    (f.locals ?? []).map(([n, t]) => ` (local ${n} ${t})`).join('') +
    `\n${f.body}\n)`;
  const mem = m.sharedMemory ? '(memory 1 65536 shared)' : '(memory 1)';
  return `(module (import "env" "memory" ${mem})\n${m.functions.map(fn).join('\n')})`;
}
