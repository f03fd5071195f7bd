/**
 * Trains the MNIST feature classifier on the full training split, reports its test-set accuracy
 * and the Fréchet distance between test and training features, and saves its weights as
 * safetensors (default out/mnist-classifier.safetensors).
 *
 *     npm run train-classifier -w @fewstep/eval -- [--epochs 3] [--backend <a registered tfjs backend>] [--limit n] [--out path]
 *
 * Slow (minutes on 2 CPU cores): not part of the default test suite.
 */
import * as tf from '@tensorflow/tfjs';
import { loadMnist, mnistImagesTensor, mnistLabelsTensor } from '@fewstep/data';
import {
  classifierAccuracy,
  createMnistClassifier,
  mnistFrechetDistance,
  saveClassifierWeights,
  trainMnistClassifier,
  writeOutput,
} from '@fewstep/eval';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const epochs = Number(arg('epochs', '3'));
  const limit = Number(arg('limit', '60000'));
  const out = arg('out', 'out/mnist-classifier.safetensors');
  const backend = arg('backend', 'cpu');
  await tf.setBackend(backend);
  await tf.ready();

  const train = loadMnist({ split: 'train', limit });
  const test = loadMnist({ split: 'test' });
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const x = mnistImagesTensor(train, all(train.count));
  const y = mnistLabelsTensor(train, all(train.count));
  const xt = mnistImagesTensor(test, all(test.count));
  const yt = mnistLabelsTensor(test, all(test.count));
  const model = createMnistClassifier({ seed: 0 });
  const stepsPerEpoch = Math.ceil(train.count / 128);
  const started = Date.now();
  trainMnistClassifier(model, x, y, {
    epochs,
    batchSize: 128,
    learningRate: 1e-3,
    seed: 0,
    onStep: (step, loss) => {
      if (step % 50 === 0 || step === epochs * stepsPerEpoch - 1) {
        const s = ((Date.now() - started) / 1000).toFixed(0);
        console.log(`step ${step + 1}/${epochs * stepsPerEpoch}  epoch ${Math.floor(step / stepsPerEpoch) + 1}  loss ${loss.toFixed(4)}  ${s}s`);
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const accuracy = classifierAccuracy(model, xt, yt);
  const xTrain10k = tf.slice(x, [0, 0, 0, 0], [Math.min(10000, train.count), -1, -1, -1]) as tf.Tensor4D;
  const fd = mnistFrechetDistance(model, xt, xTrain10k);
  console.log(`test accuracy ${(100 * accuracy).toFixed(2)}% (10 000 images); training ${seconds.toFixed(0)}s on ${backend}`);
  console.log(`Fréchet distance, test (10 000) vs train (first ${xTrain10k.shape[0]}) features: ${fd.toFixed(4)}`);
  const bytes = saveClassifierWeights(model, {
    kind: 'mlp',
    inputSize: '28',
    hidden: '256',
    featureDim: '64',
    epochs: String(epochs),
    testAccuracy: accuracy.toFixed(4),
    trainTestFrechet: fd.toFixed(4),
  });
  writeOutput(out, bytes);
  console.log(`weights: ${out} (${bytes.length} bytes)`);
  tf.dispose([x, y, xt, yt, xTrain10k]);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
