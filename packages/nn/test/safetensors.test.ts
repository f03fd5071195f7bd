import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, useTestBackend } from '@fewstep/testing';
import { FewstepError } from '@fewstep/core';
import {
  Conv2d,
  floatToHalf,
  halfToFloat,
  Linear,
  loadSafetensors,
  loadStateDict,
  readSafetensors,
  saveSafetensors,
  SongUNet,
  stateDict,
  writeSafetensors,
} from '@fewstep/nn';
import { FIXTURES } from './helpers';

beforeAll(async () => {
  await useTestBackend();
});

const bytesOf = (name: string) => readFileSync(join(FIXTURES, name));

describe('readSafetensors / writeSafetensors', () => {
  it('reads the golden files (PyTorch names, layouts, buffers)', () => {
    const f = readSafetensors(bytesOf('net_layer_conv2d.safetensors'));
    expect(f.tensors['conv3.weight'].shape).toEqual([3, 4, 3, 3]);
    expect(f.dtypes['conv3.weight']).toBe('F32');
    expect(Array.from(f.tensors['down_box.resample_filter'].data)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(f.tensors['up_fir.resample_filter'].shape).toEqual([1, 1, 4, 4]);
  });

  it('round-trips F32 exactly and F16 / BF16 to their precision, with metadata', () => {
    const data = new Float32Array([0, 1, -2.5, 1e-3, 65504, 3.14159, -1e-6, 1 / 3]);
    const tensors = { 'b.x': { shape: [2, 4], data }, a: { shape: [1], data: new Float32Array([7]) } };
    const f32 = readSafetensors(writeSafetensors(tensors, { metadata: { format: 'pt' } }));
    expect(f32.metadata).toEqual({ format: 'pt' });
    expect(Array.from(f32.tensors['b.x'].data)).toEqual(Array.from(data));
    expect(f32.tensors['b.x'].shape).toEqual([2, 4]);
    const f16 = readSafetensors(writeSafetensors(tensors, { dtype: 'F16' }));
    expect(f16.dtypes['b.x']).toBe('F16');
    f16.tensors['b.x'].data.forEach((v, i) => expect(Math.abs(v - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) * 2 ** -11 + 6e-8));
    const bf = readSafetensors(writeSafetensors(tensors, { dtype: 'BF16' }));
    bf.tensors['b.x'].data.forEach((v, i) => expect(Math.abs(v - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) * 2 ** -8));
  });

  it('header is padded to a multiple of 8 and works from a sliced Uint8Array', () => {
    const bytes = writeSafetensors({ w: { shape: [3], data: new Float32Array([1, 2, 3]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const padded = new Uint8Array(bytes.length + 5);
    padded.set(bytes, 5);
    expect(Array.from(readSafetensors(padded.subarray(5)).tensors.w.data)).toEqual([1, 2, 3]);
  });

  it('half conversions: known values, subnormals, overflow, NaN', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(halfToFloat(floatToHalf(0.1))).toBeCloseTo(0.1, 3);
  });

  it('names what is wrong with a bad file', () => {
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(/readSafetensors: bytes must be a safetensors file: got only 4 bytes/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    expect(() => readSafetensors(huge)).toThrow(/header length 1000 exceeds/);
    const enc = new TextEncoder().encode('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}');
    const file = new Uint8Array(8 + enc.length + 1);
    new DataView(file.buffer).setBigUint64(0, BigInt(enc.length), true);
    file.set(enc, 8);
    expect(() => readSafetensors(file)).toThrow(/tensor w has unsupported dtype "U8"/);
    expect(() => readSafetensors('nope' as never)).toThrow(/bytes must be an ArrayBuffer or a Uint8Array/);
    expect(() => writeSafetensors({ w: { shape: [2], data: new Float32Array(3) } })).toThrow(/tensors\[w\] must be 2 values/);
    expect(() => writeSafetensors({}, { dtype: 'F8' as never })).toThrow(/dtype must be one of/);
  });
});

describe('loadStateDict / stateDict', () => {
  it('round-trips a network through safetensors in PyTorch names and layouts', async () => {
    const cfg = { imgResolution: 8, inChannels: 3, outChannels: 3, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4] };
    const a = new SongUNet({ ...cfg, embeddingType: 'fourier', encoderType: 'residual', decoderType: 'skip', resampleFilter: [1, 3, 3, 1], seed: 1 });
    const b = new SongUNet({ ...cfg, embeddingType: 'fourier', encoderType: 'residual', decoderType: 'skip', resampleFilter: [1, 3, 3, 1], seed: 2 });
    const bytes = await expectNoLeak(() => saveSafetensors(a, { prefix: 'model.' }), () => undefined);
    const file = readSafetensors(bytes);
    expect(file.tensors['model.enc.8x8_conv.weight'].shape).toEqual([8, 3, 3, 3]);
    expect(file.tensors['model.map_layer0.weight'].shape).toEqual([32, 8]);
    expect(file.tensors['model.map_noise.freqs'].shape).toEqual([4]);
    loadSafetensors(b, bytes, { prefix: 'model.' });
    const sa = stateDict(a);
    const sb = stateDict(b);
    expect(Object.keys(sb)).toEqual(Object.keys(sa));
    for (const k of Object.keys(sa)) expect(Array.from(sb[k].data)).toEqual(Array.from(sa[k].data));
    a.dispose();
    b.dispose();
  });

  it('transposes linear [out, in] and conv [out, in, kh, kw] layouts', () => {
    const lin = new Linear(2, 3);
    loadStateDict(lin, { weight: { shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, bias: tf.tensor1d([0, 0, 1]) });
    tf.tidy(() => {
      const y = lin.forward(tf.tensor2d([[1, 10]]));
      expect(Array.from(y.dataSync())).toEqual([21, 43, 66]);
    });
    const conv = new Conv2d(2, 1, 1, { bias: false });
    loadStateDict(conv, { weight: { shape: [1, 2, 1, 1], data: new Float32Array([2, -1]) } });
    tf.tidy(() => {
      const y = conv.forward(tf.tensor4d([3, 5], [1, 1, 1, 2]));
      expect(Array.from(y.dataSync())).toEqual([1]);
    });
    lin.dispose();
    conv.dispose();
  });

  it('reports missing, unexpected and mis-shaped keys by name and leaves the module untouched', () => {
    const lin = new Linear(2, 3);
    const before = Array.from(lin.weight.dataSync());
    const w = { shape: [3, 2], data: new Float32Array(6).fill(9) };
    const err = (() => {
      try {
        loadStateDict(lin, { weight: w, extra: { shape: [1], data: new Float32Array(1) } });
      } catch (e) {
        return e as FewstepError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(FewstepError);
    expect(err?.message).toMatch(/missing: bias/);
    expect(err?.message).toMatch(/unexpected: extra/);
    expect(Array.from(lin.weight.dataSync())).toEqual(before);
    expect(() => loadStateDict(lin, { weight: { shape: [2, 3], data: new Float32Array(6) }, bias: { shape: [3], data: new Float32Array(3) } })).toThrow(
      /mis-shaped: weight \(expected \[3,2\], got \[2,3\]\)/,
    );
    // Non-strict: missing and unexpected are returned, mis-shaped still throws.
    const res = loadStateDict(lin, { weight: w, extra: { shape: [1], data: new Float32Array(1) } }, { strict: false });
    expect(res).toEqual({ missing: ['bias'], unexpected: ['extra'] });
    expect(Array.from(lin.weight.dataSync())).toEqual(new Array(6).fill(9));
    expect(() => loadStateDict(lin, { weight: { shape: [3], data: [1, 2, 3] } as never })).toThrow(/tensors\[weight\] must be a tf.Tensor/);
    expect(() => loadStateDict({} as never, {})).toThrow(/module must be a Module/);
    lin.dispose();
  });

  it('a prefix selects the raw network of a preconditioner checkpoint', () => {
    const f = readSafetensors(bytesOf('net_songunet_ddpmpp_edm.safetensors'));
    const net = new SongUNet({ imgResolution: 8, inChannels: 3, outChannels: 3, modelChannels: 16, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4] });
    expect(() => loadStateDict(net, f.tensors)).toThrow(/missing: map_layer0.weight/);
    expect(loadStateDict(net, f.tensors, { prefix: 'model.' })).toEqual({ missing: [], unexpected: [] });
    const wrong = new SongUNet({ imgResolution: 8, inChannels: 3, outChannels: 3, modelChannels: 8, channelMult: [1, 2], numBlocks: 1, attnResolutions: [4] });
    expect(() => loadStateDict(wrong, f.tensors, { prefix: 'model.' })).toThrow(/mis-shaped: model.map_layer0.weight \(expected \[32,8\], got \[64,16\]\)/);
    net.dispose();
    wrong.dispose();
  });
});
