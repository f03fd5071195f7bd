import * as tf from '@tensorflow/tfjs';
import { FewstepError, validate } from '@fewstep/core';

/**
 * How a tensor is stored here versus in PyTorch. fewstep keeps tfjs layouts (NHWC convs, x·W
 * linears) and converts only at the state_dict boundary:
 * - 'linear': PyTorch [out, in]          <-> tfjs [in, out]
 * - 'conv':   PyTorch [out, in, kh, kw]  <-> tfjs [kh, kw, in, out]
 * - 'plain':  same layout on both sides (biases, norms, buffers).
 */
export type Layout = 'linear' | 'conv' | 'plain';

/** One named tensor of a module: a trainable parameter or a (non-trainable) buffer. */
export interface Entry {
  variable: tf.Variable;
  layout: Layout;
  kind: 'parameter' | 'buffer';
}

/**
 * A base class for layers and networks. Parameters and buffers are tfjs Variables registered under
 * names that join, with dots, into exactly PyTorch's state_dict names (`enc.8x8_block0.conv0.weight`).
 * Modules start in eval mode (dropout off): call `train()` for training passes or pass
 * `{train: true}` per call.
 */
export class Module {
  /** Training mode: dropout (and label dropout) active. */
  training = false;
  private readonly entries = new Map<string, Entry>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter initialised from `values` (tfjs layout). */
  protected addParameter(name: string, values: Float32Array | tf.Tensor, shape: number[], layout: Layout = 'plain'): tf.Variable {
    return this.addEntry(name, values, shape, layout, 'parameter');
  }

  /** Registers a buffer: saved in the state_dict, never trained (EDM's `resample_filter`, `freqs`). */
  protected addBuffer(name: string, values: Float32Array | tf.Tensor, shape: number[]): tf.Variable {
    return this.addEntry(name, values, shape, 'plain', 'buffer');
  }

  /** Registers a sub-module under `name` (a path component; may contain 'x' and digits, no dots). */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.children.set(name, module);
    return module;
  }

  private addEntry(name: string, values: Float32Array | tf.Tensor, shape: number[], layout: Layout, kind: Entry['kind']): tf.Variable {
    this.checkName(name);
    const initial = values instanceof tf.Tensor ? values : tf.tensor(values, shape, 'float32');
    // Variables get tfjs' automatic unique names: two networks with equal paths must coexist.
    const variable = tf.variable(initial, kind === 'parameter');
    if (!(values instanceof tf.Tensor)) initial.dispose();
    this.entries.set(name, { variable, layout, kind });
    return variable;
  }

  private checkName(name: string): void {
    const check = validate(`${this.constructor.name}.register`);
    check.check(typeof name === 'string' && name.length > 0 && !name.includes('.'), 'name', 'a non-empty name without dots', name);
    check.check(!this.entries.has(name) && !this.children.has(name), 'name', 'a name not registered yet', name);
  }

  /** The direct sub-modules in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }

  /** Every parameter and buffer, in PyTorch's state_dict order (own entries first, then children). */
  namedEntries(prefix = ''): [string, Entry][] {
    const out: [string, Entry][] = [];
    for (const kind of ['parameter', 'buffer'] as const) {
      for (const [n, e] of this.entries) if (e.kind === kind) out.push([prefix + n, e]);
    }
    for (const [n, child] of this.children) out.push(...child.namedEntries(`${prefix}${n}.`));
    return out;
  }

  /** Parameters (not buffers) with their dotted names. */
  namedParameters(prefix = ''): [string, tf.Variable][] {
    return this.namedEntries(prefix)
      .filter(([, e]) => e.kind === 'parameter')
      .map(([n, e]) => [n, e.variable]);
  }

  /** Buffers with their dotted names. */
  namedBuffers(prefix = ''): [string, tf.Variable][] {
    return this.namedEntries(prefix)
      .filter(([, e]) => e.kind === 'buffer')
      .map(([n, e]) => [n, e.variable]);
  }

  /** All parameters (frozen ones included). */
  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /** The parameters an optimizer should update: `optimizer.minimize(f, false, net.trainableParameters())`. */
  trainableParameters(): tf.Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  /** The number of scalar parameters (buffers excluded). */
  numParameters(): number {
    return this.parameters().reduce((n, v) => n + v.size, 0);
  }

  /** One entry by dotted name. */
  getEntry(name: string): Entry | undefined {
    const dot = name.indexOf('.');
    if (dot < 0) return this.entries.get(name);
    return this.children.get(name.slice(0, dot))?.getEntry(name.slice(dot + 1));
  }

  /** Sets training mode on this module and every sub-module. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  /** Sets eval mode (dropout off) everywhere. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Freezes parameters (trainable = false): all, or those whose dotted name starts with one of
   * `prefixes` (`net.freeze(['map_'])`). Frozen variables receive no gradient from tfjs optimizers.
   */
  freeze(prefixes?: string[]): this {
    return this.setTrainable(false, prefixes);
  }

  /** Undoes `freeze` (for all parameters, or those under `prefixes`). */
  unfreeze(prefixes?: string[]): this {
    return this.setTrainable(true, prefixes);
  }

  private setTrainable(value: boolean, prefixes?: string[]): this {
    for (const [name, v] of this.namedParameters()) {
      if (!prefixes || prefixes.some((p) => name === p || name.startsWith(p))) v.trainable = value;
    }
    return this;
  }

  /**
   * Copies every parameter and buffer of `source` (same architecture) into this module: the
   * target network of a consistency loss or the initial value of an EMA copy.
   */
  copyFrom(source: Module): this {
    const pairs = this.matchEntries('copyFrom', source);
    for (const [, mine, theirs] of pairs) mine.variable.assign(theirs.variable);
    return this;
  }

  /**
   * Exponential moving average in place: this <- decay · this + (1 − decay) · source, for every
   * parameter; buffers are copied.
   */
  emaUpdateFrom(source: Module, decay: number): this {
    validate('emaUpdateFrom').finite('decay', decay, { min: 0, max: 1 });
    const pairs = this.matchEntries('emaUpdateFrom', source);
    tf.tidy(() => {
      for (const [, mine, theirs] of pairs) {
        if (mine.kind === 'buffer') mine.variable.assign(theirs.variable);
        else mine.variable.assign(mine.variable.mul(decay).add(theirs.variable.mul(1 - decay)));
      }
    });
    return this;
  }

  private matchEntries(where: string, source: Module): [string, Entry, Entry][] {
    if (!(source instanceof Module)) validate(where).fail('source', 'a Module', source);
    const mine = this.namedEntries();
    const theirs = new Map(source.namedEntries());
    const problems: string[] = [];
    const pairs: [string, Entry, Entry][] = [];
    for (const [name, e] of mine) {
      const o = theirs.get(name);
      if (!o) problems.push(`missing ${name}`);
      else if (o.variable.shape.join() !== e.variable.shape.join()) {
        problems.push(`${name} has shape [${o.variable.shape}] instead of [${e.variable.shape}]`);
      } else pairs.push([name, e, o]);
      theirs.delete(name);
    }
    for (const name of theirs.keys()) problems.push(`unexpected ${name}`);
    if (problems.length) {
      throw new FewstepError(where, `source must have this module's parameters, got: ${problems.join('; ')}`, 'source');
    }
    return pairs;
  }

  /** Disposes every variable of this module and its sub-modules. */
  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    for (const child of this.children.values()) child.dispose();
  }
}

/** An ordered dictionary of sub-modules (PyTorch's ModuleDict: names such as `16x16_block0`). */
export class ModuleDict<M extends Module = Module> extends Module {
  private readonly ordered: [string, M][] = [];

  add(name: string, module: M): M {
    this.addModule(name, module);
    this.ordered.push([name, module]);
    return module;
  }

  items(): [string, M][] {
    return [...this.ordered];
  }
}
