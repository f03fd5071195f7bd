import { describe, expect, it } from 'vitest';
import { FewstepError } from '@fewstep/core';
import { chartLayout, decodePng, lineChartPng, lineChartRaster, lineChartSvg, niceTicks } from '@fewstep/eval';

describe('charts', () => {
  const loss = { name: 'loss <train>', y: [1, 0.5, 0.25, NaN, 0.1] };
  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map((v) => expect.closeTo(v, 12)));
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
  });
  it('lays out points in pixel space, split at non-finite values', () => {
    const L = chartLayout([loss], { width: 400, height: 300 });
    expect(L.paths[0].runs.map((r) => r.length)).toEqual([3, 1]);
    const [first] = L.paths[0].runs[0];
    expect(first[0]).toBeCloseTo(L.plot.x0, 9); // x = 0 at the left edge
    expect(first[1]).toBeCloseTo(L.plot.y0, 9); // the largest y at the top
    const last = L.paths[0].runs[1][0];
    expect(last[0]).toBeCloseTo(L.plot.x1, 9);
    expect(last[1]).toBeCloseTo(L.plot.y1, 9);
  });
  it('writes a well-formed SVG with one polyline per run, escaped names and labels', () => {
    const svg = lineChartSvg([loss, { name: 'ema', x: [0, 2, 4], y: [0.9, 0.3, 0.2] }], { title: 'Loss', xLabel: 'step', yLabel: 'value', logY: true });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline class="series"/g)?.length).toBe(3);
    expect(svg).toContain('loss &lt;train&gt;');
    expect(svg).not.toContain('<train>');
    expect(svg).toContain('>step</text>');
    expect(svg).toContain('>0.1</text>'); // log ticks at powers of ten
    expect(svg).toContain('>1</text>');
  });
  it('rasterises to an RGB PNG with the curve drawn in its colour', () => {
    const img = lineChartRaster([{ name: 'a', y: [0, 1], color: '#ff0000' }], { width: 200, height: 150 });
    let red = 0;
    for (let i = 0; i < img.data.length; i += 3) if (img.data[i] === 255 && img.data[i + 1] === 0 && img.data[i + 2] === 0) red++;
    expect(red).toBeGreaterThan(100);
    const back = decodePng(lineChartPng([{ name: 'a', y: [0, 1], color: '#ff0000' }], { width: 200, height: 150 }));
    expect(back).toMatchObject({ width: 200, height: 150, channels: 3 });
    expect(Buffer.compare(Buffer.from(back.data), Buffer.from(img.data))).toBe(0);
  });
  it('rejects bad series and options with FewstepError', () => {
    expect(() => lineChartSvg([])).toThrowError(/lineChartSvg: series must be a non-empty array/);
    expect(() => lineChartSvg([{ name: 'a', y: [1, 2], x: [1] }])).toThrowError(/series\[0\].x must be an array of 2 numbers/);
    expect(() => lineChartSvg([{ y: [1] } as never])).toThrowError(/series\[0\] must be a \{name, y, x\?\} object/);
    expect(() => lineChartSvg([{ name: 'a', y: [NaN] }])).toThrowError(/at least one finite point/);
    expect(() => lineChartSvg([{ name: 'a', y: [-1] }], { logY: true })).toThrowError(/finite positive point/);
    expect(() => lineChartPng([{ name: 'a', y: [1] }], { width: 10 })).toThrowError(FewstepError);
  });
});
