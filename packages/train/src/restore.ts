import * as tf from '@tensorflow/tfjs';
import { FewstepError, noiseFromState, type NoiseSource, type NoiseState } from '@fewstep/core';
import { torchShape, type HostTensor } from '@fewstep/nn';
import type { CheckpointManifest } from './manifest';
import { fromHost, moduleVariables, type NamedVariable, type RestoreTargets } from './state';

type Assignment = () => void;

const MAX_LISTED = 24;

/** Plans the module assignments, noting every missing, unexpected or mis-shaped tensor. */
function planModules(m: CheckpointManifest, tensors: Record<string, HostTensor>, vars: NamedVariable[], problems: string[], out: Assignment[]): void {
  const roles = new Set(vars.map((v) => v.name.slice(0, v.name.indexOf('.'))));
  for (const role of roles) if (!m.modules[role]) problems.push(`module role "${role}" is not in the checkpoint (it has ${Object.keys(m.modules).map((r) => `"${r}"`).join(', ') || 'none'})`);
  const wanted = new Set(vars.map((v) => `module/${v.name}`));
  for (const v of vars) {
    const key = `module/${v.name}`;
    const host = tensors[key];
    if (!host) {
      if (m.modules[v.name.slice(0, v.name.indexOf('.'))]) problems.push(`missing tensor ${key}`);
      continue;
    }
    const expected = fromShape(v);
    if (host.shape.join() !== expected.join()) problems.push(`${key} has shape [${host.shape}], the network expects [${expected}]`);
    else out.push(() => tf.tidy(() => v.variable.assign(fromHost(v, host))));
  }
  for (const key of Object.keys(tensors)) {
    const role = key.split('/')[1]?.split('.')[0];
    if (key.startsWith('module/') && roles.has(role) && !wanted.has(key)) problems.push(`unexpected tensor ${key} (the network has no such entry)`);
  }
}

function fromShape(v: NamedVariable): number[] {
  return torchShape(v.variable.shape, v.layout);
}

type NamedTensor = { name: string; tensor: tf.Tensor };

function planOptimizer(
  m: CheckpointManifest,
  tensors: Record<string, HostTensor>,
  targets: RestoreTargets,
  vars: NamedVariable[],
  problems: string[],
): NamedTensor[] | null {
  if (!targets.optimizer) return null;
  if (!m.optimizer) {
    problems.push('an optimizer was given but the checkpoint holds no optimizer state');
    return null;
  }
  const cls = targets.optimizer.getClassName();
  if (cls !== m.optimizer.className) problems.push(`optimizer is a ${cls}, the checkpoint holds a ${m.optimizer.className}`);
  const byName = new Map(vars.map((v) => [v.name, v.variable]));
  const weights: NamedTensor[] = [];
  for (const [key, [varName, slot]] of Object.entries(m.optimizer.slots)) {
    const variable = byName.get(varName);
    const host = tensors[key];
    if (!variable) problems.push(`optimizer slot ${key} belongs to ${varName}, which the given modules lack`);
    else if (!host) problems.push(`missing tensor ${key}`);
    else if (host.shape.join() !== variable.shape.join()) problems.push(`${key} has shape [${host.shape}], the variable ${varName} is [${variable.shape}]`);
    else weights.push({ name: `${variable.name}/${slot}`, tensor: tf.tensor(host.data, host.shape, 'float32') });
  }
  return weights;
}

function planEmas(m: CheckpointManifest, tensors: Record<string, HostTensor>, targets: RestoreTargets, problems: string[], out: Assignment[]): void {
  for (const [role, ema] of Object.entries(targets.emas ?? {})) {
    const saved = m.emas[role];
    if (!saved) {
      problems.push(`EMA "${role}" is not in the checkpoint`);
      continue;
    }
    if (saved.count !== ema.shadow.length) problems.push(`EMA "${role}" has ${ema.shadow.length} variables, the checkpoint ${saved.count}`);
    ema.shadow.forEach((v, i) => {
      const host = tensors[`ema/${role}/${i}`];
      if (!host) return;
      if (host.shape.join() !== v.shape.join()) problems.push(`ema/${role}/${i} has shape [${host.shape}], the EMA variable is [${v.shape}]`);
      else out.push(() => tf.tidy(() => v.assign(tf.tensor(host.data, host.shape, 'float32'))));
    });
    out.push(() => (ema.updates = saved.updates));
  }
}

function planLosses(m: CheckpointManifest, targets: RestoreTargets, problems: string[], out: Assignment[]): void {
  for (const [role, loss] of Object.entries(targets.losses ?? {})) {
    const saved = m.losses[role];
    if (!saved) {
      problems.push(`loss "${role}" has no saved state`);
      continue;
    }
    if (saved.stage !== undefined && typeof loss.stageAt === 'function') {
      const now = loss.stageAt(m.step);
      if (now !== saved.stage) problems.push(`loss "${role}" is at stage ${now} at step ${m.step} with this schedule, the checkpoint was saved at stage ${saved.stage}`);
    }
    if (saved.state !== undefined) {
      if (typeof loss.loadState !== 'function') problems.push(`loss "${role}" has saved state but no loadState()`);
      else out.push(() => loss.loadState!(saved.state as never));
    }
  }
}

/**
 * Validates the verified tensors against the targets (every name and shape), and only when
 * everything matches assigns them: a failed load leaves networks, EMAs and optimizer untouched.
 */
export async function restoreInto(
  where: string,
  m: CheckpointManifest,
  tensors: Record<string, HostTensor>,
  targets: RestoreTargets,
): Promise<{ noise: Record<string, NoiseSource>; noiseStates: Record<string, NoiseState> }> {
  const vars = moduleVariables(where, targets.modules);
  const problems: string[] = [];
  const assignments: Assignment[] = [];
  planModules(m, tensors, vars, problems, assignments);
  const optWeights = planOptimizer(m, tensors, targets, vars, problems);
  planEmas(m, tensors, targets, problems, assignments);
  planLosses(m, targets, problems, assignments);
  if (problems.length) {
    tf.dispose(optWeights?.map((w) => w.tensor) ?? []);
    const shown = problems.slice(0, MAX_LISTED).join('; ');
    const more = problems.length > MAX_LISTED ? `; ... and ${problems.length - MAX_LISTED} more` : '';
    throw new FewstepError(where, `checkpoint "${m.name}" (step ${m.step}) must match the targets, got ${problems.length} problem(s): ${shown}${more}`, 'targets');
  }
  for (const a of assignments) a();
  if (optWeights && targets.optimizer) {
    if (m.optimizer?.iterations !== undefined) optWeights.unshift({ name: 'iter', tensor: tf.scalar(m.optimizer.iterations, 'int32') }); // tfjs optimizers expect it first
    await targets.optimizer.setWeights(optWeights);
    tf.dispose(optWeights.map((w) => w.tensor));
    const lr = m.optimizer?.learningRate;
    const opt = targets.optimizer as unknown as { learningRate?: unknown };
    if (lr !== undefined && typeof opt.learningRate === 'number') opt.learningRate = lr;
  }
  const noise: Record<string, NoiseSource> = {};
  for (const [role, state] of Object.entries(m.noise)) if (state.kind !== 'replay') noise[role] = noiseFromState(state);
  return { noise, noiseStates: m.noise };
}
