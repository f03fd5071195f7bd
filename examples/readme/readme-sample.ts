// The README's code sample, kept compiling by the type-check (and run at a tiny size by its test).
import * as tf from '@tensorflow/tfjs';
import { ectPreconditioning, precondition, RAdam, seededNoise } from 'fewstep';
import { ectLoss } from '@fewstep/losses';
import { ectMultistepSampler, sample } from '@fewstep/samplers';
import { SongUNet } from '@fewstep/nn';

export function readmeSample(nextBatch: () => tf.Tensor, steps = 1000, size = { img: 28, channels: 32 }): tf.Tensor {
  const unet = new SongUNet({ imgResolution: size.img, inChannels: 1, outChannels: 1, modelChannels: size.channels });
  // loadSafetensors(unet, bytes, { prefix: 'model.' });   // start from a pretrained EDM model
  const f = precondition(unet.forward, ectPreconditioning({ mode: 'train' }));
  const loss = ectLoss({ mapping: 'sigmoid', q: 2, c: 0, stage: (step) => Math.floor(step / 250) });
  const noise = seededNoise(0); // every draw is replayable
  const opt = new RAdam({ learningRate: 1e-4 });

  for (let step = 0; step < steps; step++) {
    const x = nextBatch(); // [B, 28, 28, 1] in [-1, 1]
    opt.minimize(() => loss.compute({ network: f, x, step, noise }).loss);
    x.dispose();
  }
  const fEval = precondition(unet.forward, ectPreconditioning({ mode: 'eval' }));
  return sample(ectMultistepSampler({ midT: [0.821] }), { network: fEval, shape: [16, size.img, size.img, 1], noise });
}
