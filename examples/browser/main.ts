// Browser demo: load the quickstart's ECT model, sample it in one step on webgpu/webgl, and
// fine-tune it live with ECT's loss, redrawing the plot. Served by Vite (vite.config.ts).
import * as tf from '@tensorflow/tfjs';
import { AdamW, ectPreconditioning, precondition, seededNoise } from '@fewstep/core';
import { sampleToyArray } from '@fewstep/data';
import { mmdUnbiased } from '@fewstep/eval';
import { ectLoss } from '@fewstep/losses';
import { MLP, loadSafetensors, readSafetensors } from '@fewstep/nn';
import { ectMultistepSampler, sample } from '@fewstep/samplers';

const $ = (id: string) => document.getElementById(id)!;

async function pickBackend(): Promise<string> {
  for (const name of ['webgpu', 'webgl']) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      /* next */
    }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

function draw(points: Float32Array, data: Float32Array): void {
  const c = $('plot') as HTMLCanvasElement;
  const g = c.getContext('2d')!;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, c.width, c.height);
  const px = (v: number) => ((v + 2.5) / 5) * c.width;
  const py = (v: number) => ((2.5 - v) / 5) * c.height;
  for (const [pts, color] of [[data, '#bbb'], [points, '#D55E00']] as const) {
    g.fillStyle = color;
    for (let i = 0; i < pts.length; i += 2) g.fillRect(px(pts[i]), py(pts[i + 1]), 3, 3);
  }
}

async function main(): Promise<void> {
  $('backend').textContent = await pickBackend();
  const bytes = new Uint8Array(await (await fetch('ect-mlp.safetensors')).arrayBuffer());
  const meta = readSafetensors(bytes).metadata ?? {};
  const sigmaData = Number(meta.sigmaData ?? 0.5);
  const net = new MLP({ dim: 2, hiddenChannels: Number(meta.hidden ?? 128), numLayers: 3, embeddingChannels: 32, embeddingType: 'fourier', fourierScale: 1 });
  loadSafetensors(net, bytes);
  const data = sampleToyArray('moons', 500, { seed: 5 });
  const fEval = precondition(net.forward, ectPreconditioning({ sigmaData, mode: 'eval' }));
  const fTrain = precondition(net.forward, ectPreconditioning({ sigmaData, mode: 'train' }));
  const loss = ectLoss({ stage: 3 });
  const opt = new AdamW({ learningRate: 5e-4, weightDecay: 0 });
  const noise = seededNoise(11);
  let steps = 0;
  let round = 0;

  async function oneStep(): Promise<void> {
    const x = sample(ectMultistepSampler({ midT: [] }), { network: fEval, shape: [500, 2], noise: seededNoise(100 + round++) });
    const pts = (await x.data()) as Float32Array; // await data(): webgpu's dataSync is unreliable headless
    x.dispose();
    draw(pts, data);
    $('mmd').textContent = mmdUnbiased({ data: pts, dim: 2 }, { data, dim: 2 }, { bandwidth: [0.05, 0.2, 0.8] }).toFixed(4);
  }

  $('sample').addEventListener('click', async () => {
    $('status').textContent = 'sampling';
    await oneStep();
    $('status').textContent = 'sampled';
  });
  $('tune').addEventListener('click', async () => {
    $('status').textContent = 'tuning';
    for (let i = 0; i < 20; i++) {
      const x = tf.tensor2d(sampleToyArray('moons', 256, { seed: 1000 + steps }), [256, 2]);
      const value = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss.compute({ network: fTrain, x, noise, step: steps }).loss, net.trainableParameters());
        opt.applyGradients(grads);
        return value;
      });
      $('loss').textContent = ((await value.data())[0]).toFixed(4);
      tf.dispose([x, value]);
      steps++;
      $('steps').textContent = String(steps);
      if (i % 5 === 4) await oneStep();
    }
    $('status').textContent = 'tuned';
  });
  $('status').textContent = 'ready';
}

main().catch((e) => {
  $('status').textContent = `error: ${e}`;
  console.error(e);
});
