import * as tf from '@tensorflow/tfjs';
import { validate, type ExponentialMovingAverage, type NoiseSource, type NoiseState } from '@fewstep/core';
import { fromTorchLayout, toTorchLayout, torchShape, type HostTensor, type Layout, type Module } from '@fewstep/nn';

/** A network to checkpoint: an nn Module (saved in PyTorch names and layouts) or named variables. */
export type Checkpointable = Module | Record<string, tf.Variable>;

/** A loss with schedule state: ECT exposes `stageAt(step)`, UCGM-T `state()` / `loadState()`. */
export interface LossWithState {
  stageAt?(step: number): number;
  state?(): unknown;
  loadState?(state: never): void;
}

/** Everything a run needs to continue exactly; pass the same object shape to save and to load. */
export interface TrainingState {
  /** Number of completed training steps. */
  step: number;
  /** Online, EMA, target and teacher networks by role, e.g. `{online: net, ema: emaNet}`. */
  modules?: Record<string, Checkpointable>;
  /** The optimizer (fewstep RAdam/AdamW or a tfjs optimizer): moments, step and learning rate. */
  optimizer?: tf.Optimizer;
  /** EMA helpers from @fewstep/core (shadow variables and update counts). */
  emas?: Record<string, ExponentialMovingAverage>;
  /** Noise sources whose state is saved (restored ones come back from `loadCheckpoint`). */
  noise?: Record<string, NoiseSource>;
  /** Losses with schedule state (ECT's stage, UCGM-T's teacher decay). */
  losses?: Record<string, LossWithState>;
  /** User data (JSON-serialisable): config, data-loader position, wall time, ... */
  metadata?: Record<string, unknown>;
}

/** What `loadCheckpoint` writes into. Noise sources are rebuilt from state, not mutated. */
export type RestoreTargets = Omit<TrainingState, 'step' | 'noise' | 'metadata'>;

/** One variable the checkpoint knows by a stable name (tfjs variable names differ between processes). */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
  layout: Layout;
}

function isModule(m: Checkpointable): m is Module {
  return typeof (m as Module).namedEntries === 'function';
}

/** The variables of every module, named `<role>.<dotted name>`. */
export function moduleVariables(where: string, modules: Record<string, Checkpointable> = {}): NamedVariable[] {
  const check = validate(where);
  const out: NamedVariable[] = [];
  for (const [role, m] of Object.entries(modules)) {
    check.check(/^[A-Za-z0-9_-]+$/.test(role), `modules`, 'roles of letters, digits, "_" or "-"', role);
    if (isModule(m)) {
      for (const [name, e] of m.namedEntries()) out.push({ name: `${role}.${name}`, variable: e.variable, layout: e.layout });
    } else if (m && typeof m === 'object') {
      for (const [name, v] of Object.entries(m)) {
        check.tensor(`modules.${role}.${name}`, v);
        check.check(v instanceof tf.Variable, `modules.${role}.${name}`, 'a tf.Variable', v);
        out.push({ name: `${role}.${name}`, variable: v, layout: 'plain' });
      }
    } else check.fail(`modules.${role}`, 'a Module or a record of tf.Variables', m);
  }
  return out;
}

/** Host copy of a variable in its checkpoint layout (PyTorch layout for module weights); `await data()`, never dataSync. */
export async function hostOf(v: NamedVariable): Promise<HostTensor> {
  const data = Float32Array.from(await v.variable.data());
  const shape = v.variable.shape;
  return { shape: torchShape(shape, v.layout), data: toTorchLayout(data, shape, v.layout) };
}

/** A tensor of the variable's own shape from its checkpoint-layout data. */
export function fromHost(v: NamedVariable, host: HostTensor): tf.Tensor {
  const data = fromTorchLayout(host.data, torchShape(v.variable.shape, v.layout), v.layout);
  return tf.tensor(data, v.variable.shape, 'float32');
}

export interface SavedOptimizer {
  className: string;
  learningRate?: number;
  /** The optimizer's step counter ('iter' weight), when it has one. */
  iterations?: number;
  /** Slot tensor name in the file -> [variable name, slot] (e.g. ['online.proj.weight', 'm']). */
  slots: Record<string, [string, string]>;
}

/** Reads the optimizer's weights, mapping tfjs variable names to checkpoint names. */
export async function optimizerTensors(
  opt: tf.Optimizer,
  vars: NamedVariable[],
  tensors: Record<string, HostTensor>,
): Promise<SavedOptimizer> {
  const byTfName = new Map(vars.map((v) => [v.variable.name, v.name]));
  const weights = await opt.getWeights();
  const saved: SavedOptimizer = { className: opt.getClassName(), slots: {} };
  const lr = (opt as unknown as { learningRate?: unknown }).learningRate;
  if (typeof lr === 'number') saved.learningRate = lr;
  for (const { name, tensor } of weights) {
    if (name === 'iter') {
      saved.iterations = (await tensor.data())[0];
      tensor.dispose(); // a fresh scalar; the slot tensors below belong to the optimizer
      continue;
    }
    const slash = name.lastIndexOf('/');
    const varName =
      byTfName.get(name.slice(0, slash)) ??
      validate('saveCheckpoint').fail('optimizer', 'an optimizer whose variables all belong to the saved modules', `slot ${name} of an unknown variable`);
    const slot = name.slice(slash + 1);
    const key = `optimizer/${varName}/${slot}`;
    tensors[key] = { shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) };
    saved.slots[key] = [varName, slot];
  }
  return saved;
}

/** Saved noise-source states by role. */
export function noiseStates(noise: Record<string, NoiseSource> = {}): Record<string, NoiseState> {
  const out: Record<string, NoiseState> = {};
  for (const [role, n] of Object.entries(noise)) {
    if (!n || typeof n.state !== 'function') validate('saveCheckpoint').fail(`noise.${role}`, 'a NoiseSource', n);
    out[role] = n.state();
  }
  return out;
}

export interface SavedLoss {
  stage?: number;
  state?: unknown;
}

export function lossStates(step: number, losses: Record<string, LossWithState> = {}): Record<string, SavedLoss> {
  const out: Record<string, SavedLoss> = {};
  for (const [role, l] of Object.entries(losses)) {
    const s: SavedLoss = {};
    if (typeof l?.stageAt === 'function') s.stage = l.stageAt(step);
    if (typeof l?.state === 'function') s.state = JSON.parse(JSON.stringify(l.state()));
    if (s.stage === undefined && s.state === undefined) {
      validate('saveCheckpoint').fail(`losses.${role}`, 'a loss with stageAt(step) or state()', l);
    }
    out[role] = s;
  }
  return out;
}
