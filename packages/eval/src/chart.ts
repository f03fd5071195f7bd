import { validate } from '@fewstep/core';

/** One curve: y values at x (default 0, 1, 2, ...); non-finite values leave gaps. */
export interface Series {
  name: string;
  y: ArrayLike<number>;
  x?: ArrayLike<number>;
  /** CSS colour (default from a colour-blind-safe palette). */
  color?: string;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixels (default 640 x 400). */
  width?: number;
  height?: number;
  /** Logarithmic y axis (values <= 0 are skipped). */
  logY?: boolean;
}

// Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

export const MARGIN = { left: 64, right: 16, top: 32, bottom: 48 };

/** Where every series and tick lands in pixel space; shared by the SVG and PNG renderers. */
export interface ChartLayout {
  width: number;
  height: number;
  plot: { x0: number; y0: number; x1: number; y1: number };
  xTicks: { value: number; label: string; px: number }[];
  yTicks: { value: number; label: string; px: number }[];
  /** Per series, runs of consecutive finite points in pixels. */
  paths: { name: string; color: string; runs: [number, number][][] }[];
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** Round-number ticks covering [lo, hi] (about `target` of them). */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (hi <= lo) return [lo];
  const step = niceStep(hi - lo, target);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(6)));
}

function checkSeries(where: string, series: Series[]): void {
  const check = validate(where);
  check.check(Array.isArray(series) && series.length > 0, 'series', 'a non-empty array of {name, y}', series);
  series.forEach((s, i) => {
    check.check(typeof s === 'object' && s !== null && typeof s.name === 'string', `series[${i}]`, 'a {name, y, x?} object', s);
    check.check(s.y !== null && typeof s.y === 'object' && typeof s.y.length === 'number', `series[${i}].y`, 'an array of numbers', s.y);
    if (s.x !== undefined) {
      check.check(typeof s.x === 'object' && s.x?.length === s.y.length, `series[${i}].x`, `an array of ${s.y.length} numbers like y`, s.x);
    }
  });
}

/** Lays out the chart: axis ranges, ticks and pixel paths. */
export function chartLayout(series: Series[], options: ChartOptions = {}, where = 'chartLayout'): ChartLayout {
  checkSeries(where, series);
  const check = validate(where);
  const width = check.integer('options.width', options.width ?? 640, { min: 160 });
  const height = check.integer('options.height', options.height ?? 400, { min: 120 });
  const logY = options.logY ?? false;
  const points = series.map((s) =>
    Array.from(s.y, (y, i) => [s.x ? s.x[i] : i, logY ? (y > 0 ? Math.log10(y) : NaN) : y] as [number, number]),
  );
  const finite = points.flat().filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  check.check(finite.length > 0, 'series', `at least one finite${logY ? ' positive' : ''} point`, 'none');
  let [xlo, xhi] = [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))];
  let [ylo, yhi] = [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))];
  if (xhi === xlo) [xlo, xhi] = [xlo - 1, xhi + 1];
  if (yhi === ylo) [ylo, yhi] = [ylo - 1, yhi + 1];
  const plot = { x0: MARGIN.left, y0: MARGIN.top, x1: width - MARGIN.right, y1: height - MARGIN.bottom };
  const px = (x: number) => plot.x0 + ((x - xlo) / (xhi - xlo)) * (plot.x1 - plot.x0);
  const py = (y: number) => plot.y1 - ((y - ylo) / (yhi - ylo)) * (plot.y1 - plot.y0);
  const xTicks = niceTicks(xlo, xhi).map((v) => ({ value: v, label: formatTick(v), px: px(v) }));
  const yValues = logY ? logTicks(ylo, yhi) : niceTicks(ylo, yhi);
  const yTicks = yValues.map((v) => ({ value: logY ? 10 ** v : v, label: formatTick(logY ? 10 ** v : v), px: py(v) }));
  const paths = points.map((pts, i) => {
    const runs: [number, number][][] = [];
    let run: [number, number][] = [];
    for (const [x, y] of pts) {
      if (Number.isFinite(x) && Number.isFinite(y)) run.push([px(x), py(y)]);
      else if (run.length) (runs.push(run), (run = []));
    }
    if (run.length) runs.push(run);
    return { name: series[i].name, color: series[i].color ?? PALETTE[i % PALETTE.length], runs };
  });
  return { width, height, plot, xTicks, yTicks, paths };
}

// Ticks at integer powers of ten of a log10 range (or nice ticks within one decade).
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) ticks.push(e);
  return ticks.length >= 2 ? ticks : niceTicks(lo, hi);
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r = (v: number) => Math.round(v * 100) / 100;

/** A line chart (loss or metric curves) as a standalone SVG document. */
export function lineChartSvg(series: Series[], options: ChartOptions = {}): string {
  const L = chartLayout(series, options, 'lineChartSvg');
  const { x0, y0, x1, y1 } = L.plot;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  for (const t of L.yTicks) {
    out.push(`<line x1="${x0}" x2="${x1}" y1="${r(t.px)}" y2="${r(t.px)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${r(t.px + 4)}" text-anchor="end">${escape(t.label)}</text>`);
  }
  for (const t of L.xTicks) {
    out.push(`<line x1="${r(t.px)}" x2="${r(t.px)}" y1="${y0}" y2="${y1}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${r(t.px)}" y="${y1 + 16}" text-anchor="middle">${escape(t.label)}</text>`);
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#333333"/>`);
  for (const p of L.paths) {
    for (const run of p.runs) {
      const pts = run.map(([x, y]) => `${r(x)},${r(y)}`).join(' ');
      out.push(`<polyline class="series" data-name="${escape(p.name)}" fill="none" stroke="${escape(p.color)}" stroke-width="1.5" points="${pts}"/>`);
    }
  }
  L.paths.forEach((p, i) => {
    const ly = y0 + 14 + 16 * i;
    out.push(`<line x1="${x1 - 120}" x2="${x1 - 100}" y1="${ly - 4}" y2="${ly - 4}" stroke="${escape(p.color)}" stroke-width="2"/>`);
    out.push(`<text x="${x1 - 95}" y="${ly}">${escape(p.name)}</text>`);
  });
  if (options.title) out.push(`<text x="${(x0 + x1) / 2}" y="20" text-anchor="middle" font-size="14">${escape(options.title)}</text>`);
  if (options.xLabel) out.push(`<text x="${(x0 + x1) / 2}" y="${L.height - 10}" text-anchor="middle">${escape(options.xLabel)}</text>`);
  if (options.yLabel) {
    out.push(`<text transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
