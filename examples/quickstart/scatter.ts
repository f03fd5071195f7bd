// Scatter plots of 2-D point clouds, side by side, as one RGB PNG (no canvas needed).
import { encodePng } from '@fewstep/eval';

export interface Panel {
  title: string;
  points: Float32Array; // row-major [N, 2]
  color: [number, number, number];
}

// A 3x5 bitmap font for the panel titles (upper-case letters, digits, a few symbols).
const GLYPHS: Record<string, string> = {
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110', E: '111100110100111',
  F: '111100110100100', G: '011100101101011', H: '101101111101101', I: '111010010010111', J: '001001001101010',
  K: '101101110101101', L: '100100100100111', M: '101111111101101', N: '110101101101101', O: '010101101101010',
  P: '110101110100100', Q: '010101101110011', R: '110101110101101', S: '011100010001110', T: '111010010010010',
  U: '101101101101111', V: '101101101101010', W: '101101111111101', X: '101101010101101', Y: '101101010010010',
  Z: '111001010100111', '0': '111101101101111', '1': '010110010010111', '2': '110001010100111', '3': '110001010001110',
  '4': '101101111001001', '5': '111100110001110', '6': '011100111101111', '7': '111001010010010', '8': '111101111101111',
  '9': '111101111001110', '-': '000000111000000', ' ': '000000000000000', '(': '010100100100010', ')': '010001001001010',
  ',': '000000000010100', '.': '000000000000010', '=': '000111000111000',
};

function drawText(img: Uint8Array, width: number, x0: number, y0: number, text: string, scale = 2): void {
  let x = x0;
  for (const ch of text.toUpperCase()) {
    const g = GLYPHS[ch] ?? GLYPHS[' '];
    for (let r = 0; r < 5; r++) {
      for (let c = 0; c < 3; c++) {
        if (g[r * 3 + c] !== '1') continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const i = ((y0 + r * scale + dy) * width + x + c * scale + dx) * 3;
            img[i] = img[i + 1] = img[i + 2] = 30;
          }
        }
      }
    }
    x += 4 * scale;
  }
}

/** Renders panels of `size` x `size` pixels showing [-extent, extent]^2, with titles above. */
export function scatterPng(panels: Panel[], opts: { size?: number; extent?: number } = {}): Uint8Array {
  const size = opts.size ?? 280;
  const extent = opts.extent ?? 2.5;
  const top = 24;
  const width = size * panels.length;
  const height = size + top;
  const img = new Uint8Array(width * height * 3).fill(255);
  panels.forEach((p, k) => {
    const x0 = k * size;
    // Panel frame and axes through the origin.
    for (let i = 0; i < size; i++) {
      for (const [x, y] of [[x0 + i, top], [x0 + i, top + size - 1], [x0, top + i], [x0 + size - 1, top + i], [x0 + i, top + size / 2], [x0 + size / 2, top + i]]) {
        const o = (Math.floor(y) * width + Math.floor(x)) * 3;
        img[o] = img[o + 1] = img[o + 2] = 215;
      }
    }
    drawText(img, width, x0 + 6, 6, p.title);
    for (let n = 0; n < p.points.length / 2; n++) {
      const px = x0 + Math.round(((p.points[2 * n] + extent) / (2 * extent)) * (size - 1));
      const py = top + Math.round(((extent - p.points[2 * n + 1]) / (2 * extent)) * (size - 1));
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const x = px + dx;
          const y = py + dy;
          if (x <= x0 || x >= x0 + size - 1 || y <= top || y >= height - 1) continue;
          const o = (y * width + x) * 3;
          img.set(p.color, o);
        }
      }
    }
  });
  return encodePng({ width, height, channels: 3, data: img });
}
