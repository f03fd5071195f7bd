import type { Tensor } from '@tensorflow/tfjs';

/**
 * The one error type of fewstep. Its message names the argument, what was expected and what was
 * given, e.g. `karrasSigmas: sigmaMin must be < sigmaMax, got sigmaMin=80, sigmaMax=1`.
 */
export class FewstepError extends Error {
  /** The function that rejected its input (e.g. `karrasSigmas`). */
  readonly where: string;
  /** The offending argument (e.g. `sigmaMin`), when one argument is to blame. */
  readonly argument?: string;

  constructor(where: string, message: string, argument?: string) {
    super(`${where}: ${message}`);
    this.name = 'FewstepError';
    this.where = where;
    this.argument = argument;
  }
}

/**
 * The largest grid length or batch size accepted (2^24): far beyond any real run, small enough
 * that a typo such as n = 1e12 is a FewstepError instead of a RangeError from the array allocator.
 */
export const MAX_LENGTH = 2 ** 24;

/** A short, readable rendering of any value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const head = value.slice(0, 8).map(describe).join(', ');
    return `[${head}${value.length > 8 ? `, ... (${value.length} items)` : ''}]`;
  }
  if (isTensor(value)) {
    if (value.isDisposed) return 'a disposed tensor';
    return `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  }
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** True for tfjs tensors (duck-typed so that two tfjs copies still interoperate). */
export function isTensor(value: unknown): value is Tensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    'shape' in value &&
    'dtype' in value &&
    'dataId' in value &&
    Array.isArray((value as Tensor).shape)
  );
}

/**
 * Argument validation bound to one function name, so each check reads as one line:
 *
 *     const check = validate('karrasSigmas');
 *     check.integer('n', n, { min: 1 });
 *     check.finite('sigmaMin', sigmaMin, { gt: 0 });
 */
export function validate(where: string): Validator {
  return new Validator(where);
}

export interface NumberBounds {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** Exclusive upper bound. */
  lt?: number;
}

function boundsText(b: NumberBounds): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`>= ${b.min}`);
  if (b.gt !== undefined) parts.push(`> ${b.gt}`);
  if (b.max !== undefined) parts.push(`<= ${b.max}`);
  if (b.lt !== undefined) parts.push(`< ${b.lt}`);
  return parts.join(' and ');
}

function inBounds(v: number, b: NumberBounds): boolean {
  return (
    (b.min === undefined || v >= b.min) &&
    (b.max === undefined || v <= b.max) &&
    (b.gt === undefined || v > b.gt) &&
    (b.lt === undefined || v < b.lt)
  );
}

export class Validator {
  constructor(readonly where: string) {}

  /** Throws a FewstepError about `argument`. */
  fail(argument: string, expected: string, got: unknown): never {
    throw new FewstepError(this.where, `${argument} must be ${expected}, got ${describe(got)}`, argument);
  }

  /** A finite number, optionally within bounds. */
  finite(argument: string, value: unknown, bounds: NumberBounds = {}): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const extra = boundsText(bounds);
      this.fail(argument, `a finite number${extra ? ` ${extra}` : ''}`, value);
    }
    if (!inBounds(value, bounds)) this.fail(argument, `a number ${boundsText(bounds)}`, value);
    return value;
  }

  /** A number (possibly infinite, never NaN) within bounds: for limits such as sigmaMax = Infinity. */
  number(argument: string, value: unknown, bounds: NumberBounds = {}): number {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      this.fail(argument, `a number${boundsText(bounds) ? ` ${boundsText(bounds)}` : ''}`, value);
    }
    if (!inBounds(value, bounds)) this.fail(argument, `a number ${boundsText(bounds)}`, value);
    return value;
  }

  /** A safe integer within bounds. */
  integer(argument: string, value: unknown, bounds: NumberBounds = {}): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      const extra = boundsText(bounds);
      this.fail(argument, `an integer${extra ? ` ${extra}` : ''}`, value);
    }
    if (!inBounds(value, bounds)) this.fail(argument, `an integer ${boundsText(bounds)}`, value);
    return value;
  }

  /** A length or batch size: an integer >= min and at most MAX_LENGTH (a typo, not a RangeError). */
  size(argument: string, value: unknown, min = 0): number {
    const v = this.integer(argument, value, { min });
    if (v > MAX_LENGTH) this.fail(argument, `at most ${MAX_LENGTH} (2^24)`, value);
    return v;
  }

  /** An array of finite numbers (optionally of a given length, each within bounds). */
  numbers(argument: string, value: unknown, opts: NumberBounds & { length?: number; minLength?: number } = {}): number[] {
    if (!Array.isArray(value) && !(value instanceof Float32Array) && !(value instanceof Float64Array)) {
      this.fail(argument, 'an array of numbers', value);
    }
    const arr = Array.from(value as ArrayLike<number>);
    if (opts.length !== undefined && arr.length !== opts.length) {
      this.fail(argument, `an array of ${opts.length} numbers`, value);
    }
    if (opts.minLength !== undefined && arr.length < opts.minLength) {
      this.fail(argument, `an array of at least ${opts.minLength} numbers`, value);
    }
    arr.forEach((v, i) => this.finite(`${argument}[${i}]`, v, opts));
    return arr;
  }

  /** One of a fixed set of string options. */
  oneOf<T extends string>(argument: string, value: unknown, options: readonly T[]): T {
    if (typeof value !== 'string' || !options.includes(value as T)) {
      this.fail(argument, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, value);
    }
    return value as T;
  }

  /** A function. */
  fn<T extends (...args: never[]) => unknown>(argument: string, value: unknown): T {
    if (typeof value !== 'function') this.fail(argument, 'a function', value);
    return value as T;
  }

  /** A live tfjs tensor, optionally of a given rank and dtype. */
  tensor(argument: string, value: unknown, opts: { rank?: number | number[]; dtype?: string } = {}): Tensor {
    if (!isTensor(value)) this.fail(argument, 'a tensor', value);
    if (value.isDisposed) this.fail(argument, 'a live (not disposed) tensor', value);
    if (opts.rank !== undefined) {
      const ranks = Array.isArray(opts.rank) ? opts.rank : [opts.rank];
      if (!ranks.includes(value.rank)) {
        this.fail(argument, `a tensor of rank ${ranks.join(' or ')}`, value);
      }
    }
    if (opts.dtype !== undefined && value.dtype !== opts.dtype) {
      this.fail(argument, `a ${opts.dtype} tensor`, value);
    }
    return value;
  }

  /** A tensor whose shape equals `shape` (null entries match any size). */
  shape(argument: string, value: unknown, shape: readonly (number | null)[]): Tensor {
    const t = this.tensor(argument, value);
    const ok = t.rank === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
    if (!ok) this.fail(argument, `a tensor of shape [${shape.map((s) => (s === null ? '*' : s)).join(', ')}]`, t);
    return t;
  }

  /** Two tensors of identical shape. */
  sameShape(argA: string, a: Tensor, argB: string, b: Tensor): void {
    // A user network may return a non-tensor: name it instead of failing on `.shape`.
    this.tensor(argA, a);
    this.tensor(argB, b);
    if (a.rank !== b.rank || a.shape.some((s, i) => s !== b.shape[i])) {
      throw new FewstepError(
        this.where,
        `${argB} must have the shape of ${argA} [${a.shape.join(', ')}], got [${b.shape.join(', ')}]`,
        argB,
      );
    }
  }

  /** A general condition with a custom expectation. */
  check(condition: boolean, argument: string, expected: string, got: unknown): void {
    if (!condition) this.fail(argument, expected, got);
  }
}
