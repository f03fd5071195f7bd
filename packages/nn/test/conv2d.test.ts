import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectGolden, expectNoLeak, useTestBackend } from '@fewstep/testing';
import { Conv2d, loadStateDict } from '@fewstep/nn';
import { goldenWithWeights, input, under } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

function buildConv(kw: Record<string, any>): Conv2d {
  return new Conv2d(kw.in_channels, kw.out_channels, kw.kernel, {
    up: kw.up,
    down: kw.down,
    resampleFilter: kw.resample_filter,
    fusedResample: kw.fused_resample,
    bias: kw.bias,
  });
}

describe('Conv2d (net_layer_conv2d)', () => {
  const { golden, weights } = goldenWithWeights('net_layer_conv2d');
  for (const [name, spec] of Object.entries<any>(golden.params.modules)) {
    it(`matches ${name}`, async () => {
      const conv = buildConv(spec.kwargs);
      loadStateDict(conv, under(weights, name));
      const x = input(golden, 'x');
      await expectNoLeak(() => {
        const y = conv.forward(x);
        expectGolden(golden, name, y);
        expect(y.shape).toEqual(golden.expected[name].shape);
        return y;
      });
      x.dispose();
      conv.dispose();
    });
  }
});
