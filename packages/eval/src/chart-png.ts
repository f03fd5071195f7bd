import { encodePng, type PngOptions, type RasterImage } from './png';
import { chartLayout, type ChartOptions, type Series } from './chart';

// A 3x5 pixel font for tick labels: each glyph is 5 rows of 3 bits (most significant = left).
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '-': [0, 0, 7, 0, 0], e: [0, 7, 7, 4, 7], '+': [0, 2, 7, 2, 0],
};

function hexColour(css: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(css);
  if (!m) return [0, 0, 0];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, [r, g, b]: [number, number, number]): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 3;
    this.data[i] = r;
    this.data[i + 1] = g;
    this.data[i + 2] = b;
  }
  // A line of the given thickness, stamped at unit steps along its length.
  line(xa: number, ya: number, xb: number, yb: number, colour: [number, number, number], thick = 1): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(xb - xa, yb - ya)));
    for (let s = 0; s <= steps; s++) {
      const x = xa + ((xb - xa) * s) / steps;
      const y = ya + ((yb - ya) * s) / steps;
      for (let dx = 0; dx < thick; dx++) for (let dy = 0; dy < thick; dy++) this.set(x + dx - (thick - 1) / 2, y + dy - (thick - 1) / 2, colour);
    }
  }
  text(label: string, x: number, y: number, align: 'left' | 'right' | 'center', colour: [number, number, number]): void {
    const width = label.length * 4 - 1;
    const left = Math.round(align === 'left' ? x : align === 'right' ? x - width : x - width / 2);
    [...label].forEach((ch, k) => {
      const rows = GLYPHS[ch];
      if (!rows) return;
      rows.forEach((bits, ry) => {
        for (let rx = 0; rx < 3; rx++) if (bits & (4 >> rx)) this.set(left + 4 * k + rx, y + ry, colour);
      });
    });
  }
}

/**
 * A line chart rasterised to an RGB image: grid, frame, tick labels (digits only), curves, and a
 * colour key at the top right (no title or axis names: use the SVG for those).
 */
export function lineChartRaster(series: Series[], options: ChartOptions = {}): RasterImage {
  const L = chartLayout(series, options, 'lineChartPng');
  const c = new Canvas(L.width, L.height);
  const { x0, y0, x1, y1 } = L.plot;
  const grid: [number, number, number] = [229, 229, 229];
  const ink: [number, number, number] = [51, 51, 51];
  for (const t of L.yTicks) {
    c.line(x0, t.px, x1, t.px, grid);
    c.text(t.label, x0 - 5, Math.round(t.px) - 2, 'right', ink);
  }
  for (const t of L.xTicks) {
    c.line(t.px, y0, t.px, y1, grid);
    c.text(t.label, t.px, y1 + 6, 'center', ink);
  }
  c.line(x0, y0, x1, y0, ink);
  c.line(x0, y1, x1, y1, ink);
  c.line(x0, y0, x0, y1, ink);
  c.line(x1, y0, x1, y1, ink);
  L.paths.forEach((p, i) => {
    const colour = hexColour(p.color);
    for (const run of p.runs) {
      if (run.length === 1) c.line(run[0][0], run[0][1], run[0][0], run[0][1], colour, 3);
      for (let k = 1; k < run.length; k++) c.line(run[k - 1][0], run[k - 1][1], run[k][0], run[k][1], colour, 2);
    }
    c.line(x1 - 30, y0 + 8 + 10 * i, x1 - 10, y0 + 8 + 10 * i, colour, 3);
  });
  return { width: L.width, height: L.height, channels: 3, data: c.data };
}

/** A line chart as PNG bytes (see `lineChartRaster`). */
export function lineChartPng(series: Series[], options: ChartOptions & PngOptions = {}): Uint8Array {
  return encodePng(lineChartRaster(series, options), options);
}
