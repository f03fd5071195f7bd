import * as tf from '@tensorflow/tfjs';
import { validate } from './errors';

type NamedTensor = { name: string; tensor: tf.Tensor };

type NamedGrads = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];

function entries(grads: NamedGrads): { name: string; tensor: tf.Tensor }[] {
  return Array.isArray(grads) ? grads : Object.keys(grads).map((name) => ({ name, tensor: grads[name] }));
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

/** A variable updated in this step, its gradient and its moments. */
interface Slot {
  variable: tf.Variable;
  grad: tf.Tensor;
  mom: Moments;
}

/** Hyper-parameters of the Adam family (PyTorch's names and defaults; weight decay per optimizer). */
export interface AdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/**
 * The shared skeleton of the Adam family: first/second moments per variable and a step count.
 * Subclasses give the update direction. `learningRate` is public so schedules can set it per step.
 */
abstract class AdamFamily extends tf.Optimizer {
  protected moments = new Map<string, Moments>();
  step = 0;

  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;

  constructor(where: string, opts: AdamOptions, defaultWeightDecay: number) {
    super();
    const check = validate(where);
    this.learningRate = check.finite('learningRate', opts.learningRate ?? 1e-3, { min: 0 });
    this.beta1 = check.finite('beta1', opts.beta1 ?? 0.9, { min: 0, lt: 1 });
    this.beta2 = check.finite('beta2', opts.beta2 ?? 0.999, { min: 0, lt: 1 });
    this.epsilon = check.finite('epsilon', opts.epsilon ?? 1e-8, { gt: 0 });
    this.weightDecay = check.finite('weightDecay', opts.weightDecay ?? defaultWeightDecay, { min: 0 });
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config as never);
  }

  private createMoments(like: tf.Tensor): Moments {
    return tf.tidy(() => ({ m: tf.variable(tf.zerosLike(like), false), v: tf.variable(tf.zerosLike(like), false) }));
  }

  protected abstract direction(m: tf.Tensor, v: tf.Tensor, step: number): tf.Tensor | null;

  applyGradients(variableGradients: NamedGrads): void {
    this.step++;
    const items: Slot[] = [];
    for (const { name, tensor: grad } of entries(variableGradients)) {
      const variable = tf.engine().registeredVariables[name];
      if (!variable || grad == null) continue;
      let mom = this.moments.get(name);
      if (!mom) {
        mom = this.createMoments(variable);
        this.moments.set(name, mom);
      }
      items.push({ variable, grad, mom });
    }
    if (items.length > 0) tf.tidy(() => this.update(items, this.step));
    this.incrementIterations();
  }

  /**
   * One update of every variable at once: gradients, moments and parameters are concatenated
   * into flat vectors, updated with a dozen flat kernels, and split back (~20 kernels per step
   * instead of ~12 per variable: a SongUNet has ~270 variables, most of them small, and on wasm
   * the per-call cost dominated). Element by element the arithmetic is the per-variable one.
   * The moments stay one variable each, so state and serialisation are per variable.
   */
  private update(items: Slot[], t: number): void {
    const flat = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0].reshape([-1]) : tf.concat(ts.map((x) => x.reshape([-1]))));
    const g = flat(items.map((i) => i.grad));
    const m = tf.add(tf.mul(flat(items.map((i) => i.mom.m)), this.beta1), tf.mul(g, 1 - this.beta1));
    const v = tf.add(tf.mul(flat(items.map((i) => i.mom.v)), this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    // Decoupled weight decay (AdamW / PyTorch RAdam's decoupled form): p <- p (1 - lr wd).
    let p = flat(items.map((i) => i.variable));
    if (this.weightDecay > 0) p = tf.mul(p, 1 - this.learningRate * this.weightDecay);
    const dir = this.direction(m, v, t);
    if (dir) p = tf.sub(p, tf.mul(dir, this.learningRate));
    const sizes = items.map((i) => i.variable.size);
    const [ms, vs, ps] = [m, v, p].map((x) => (items.length === 1 ? [x] : tf.split(x, sizes)));
    items.forEach(({ variable, mom }, k) => {
      mom.m.assign(ms[k].reshape(variable.shape));
      mom.v.assign(vs[k].reshape(variable.shape));
      variable.assign(ps[k].reshape(variable.shape));
    });
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.step, 'int32') }];
    for (const [name, { m, v }] of this.moments) {
      out.push({ name: `${name}/m`, tensor: m }, { name: `${name}/v`, tensor: v });
    }
    return out;
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    for (const { name, tensor } of weights) {
      if (name === 'iter') {
        this.step = (await tensor.data())[0];
        continue;
      }
      const slash = name.lastIndexOf('/');
      const varName = name.slice(0, slash);
      const which = name.slice(slash + 1) as 'm' | 'v';
      let mom = this.moments.get(varName);
      if (!mom) {
        mom = this.createMoments(tensor);
        this.moments.set(varName, mom);
      }
      mom[which].assign(tensor);
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
  }
}

/** AdamW (Loshchilov & Hutter): Adam with bias correction and decoupled weight decay. */
export class AdamW extends AdamFamily {
  static className = 'FewstepAdamW';

  constructor(opts: AdamOptions = {}) {
    super('AdamW', opts, 0.01);
  }

  protected direction(m: tf.Tensor, v: tf.Tensor, t: number): tf.Tensor {
    const mHat = tf.div(m, 1 - this.beta1 ** t);
    const vHat = tf.div(v, 1 - this.beta2 ** t);
    return tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon));
  }
}

/**
 * RAdam (Liu et al. 2020), as in PyTorch's torch.optim.RAdam (ECT's 1-hour recipe and UCGM's
 * few-step configs use it): while the variance of the adaptive rate is intractable
 * (rho_t <= 5) it takes bias-corrected momentum steps; then rectified Adam steps.
 */
export class RAdam extends AdamFamily {
  static className = 'FewstepRAdam';

  constructor(opts: AdamOptions = {}) {
    super('RAdam', opts, 0);
  }

  protected direction(m: tf.Tensor, v: tf.Tensor, t: number): tf.Tensor {
    const b1t = this.beta1 ** t;
    const b2t = this.beta2 ** t;
    const mHat = tf.div(m, 1 - b1t);
    const rhoInf = 2 / (1 - this.beta2) - 1;
    const rhoT = rhoInf - (2 * t * b2t) / (1 - b2t);
    if (rhoT <= 5) return mHat;
    const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
    const adaptive = tf.div(Math.sqrt(1 - b2t), tf.add(tf.sqrt(v), this.epsilon));
    return tf.mul(tf.mul(mHat, adaptive), rect);
  }

}

tf.serialization.registerClass(AdamW);
tf.serialization.registerClass(RAdam);

/**
 * Scales gradients so that their global L2 norm is at most maxNorm (PyTorch's
 * clip_grad_norm_). Everything stays on the device (no synchronous read, so it is correct on
 * webgpu too): returns new gradient tensors and the norm before clipping as a scalar tensor, both
 * owned by the caller (`await norm.data()` to log it). A non-finite norm leaves the gradients
 * unscaled, so it is reported rather than hidden (the caller's guard decides what to do).
 */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  const check = validate('clipByGlobalNorm');
  check.finite('maxNorm', maxNorm, { gt: 0 });
  if (!grads || typeof grads !== 'object') check.fail('grads', 'a record of gradient tensors', grads);
  const names = Object.keys(grads);
  check.check(names.length > 0, 'grads', 'at least one gradient', grads);
  names.forEach((n) => check.tensor(`grads.${n}`, grads[n], { dtype: 'float32' }));
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
    const scaled = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    const factor = tf.where(tf.isFinite(norm), scaled, tf.onesLike(scaled));
    const out: tf.NamedTensorMap = {};
    for (const n of names) out[n] = tf.mul(grads[n], factor);
    return { grads: out, norm };
  });
}
