/**
 * The mock connector's model, in plain TS (no tfjs): synthetic 28×28 digits and a tiny
 * template-matching linear classifier with its exact input gradient. The numbers are
 * plausible, not MNIST's.
 */
import type { Distances, GrayImage, Prediction } from '../protocol/types';

export const MOCK_SIDE = 28;
export const MOCK_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** |δ_i| above this counts as a changed pixel (L0). */
export const L0_TOLERANCE = 1e-6;

// ---------------------------------------------------------------------------------------
// Synthetic digits: strokes (polylines in 28×28 pixel coordinates) rasterised with soft edges.

type Pt = readonly [number, number];

function ellipse(cx: number, cy: number, rx: number, ry: number, from = 0, to = 2 * Math.PI, n = 28): Pt[] {
  const pts: Pt[] = [];
  for (let i = 0; i <= n; i++) {
    const a = from + ((to - from) * i) / n;
    pts.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return pts;
}

const STROKES: readonly (readonly Pt[])[][] = [
  /* 0 */ [ellipse(14, 14, 5.5, 8.5)],
  /* 1 */ [[[11, 8], [14.5, 5]], [[14.5, 5], [14, 23]]],
  /* 2 */ [[[9, 9], [11, 6], [14, 5], [17.5, 6], [19, 9], [18, 12.5], [9, 22], [20, 22]]],
  /* 3 */ [[[9, 6], [14, 5], [18, 7], [18, 10.5], [14, 13], [18, 15.5], [18.5, 20], [14, 23], [9, 22]], [[12, 13], [14, 13]]],
  /* 4 */ [[[15, 5], [8, 17], [21, 17]], [[16, 9], [16, 23]]],
  /* 5 */ [[[19, 5], [10.5, 5], [9.5, 13], [14, 12], [18, 14], [19, 18], [17, 22], [13, 23], [9, 21]]],
  /* 6 */ [[[17, 5], [12, 9], [9, 15], [9, 19], [12, 23], [16, 23], [19, 19], [18, 15], [14, 13], [10, 15]]],
  /* 7 */ [[[8, 6], [20, 6], [13, 23]]],
  /* 8 */ [ellipse(14, 9.5, 4, 4.5), ellipse(14, 18, 5, 5)],
  /* 9 */ [ellipse(14, 10, 4.5, 4.5), [[18.5, 10], [17, 23]]],
];

function segDist(px: number, py: number, a: Pt, b: Pt): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  const x = a[0] + t * dx - px;
  const y = a[1] + t * dy - py;
  return Math.sqrt(x * x + y * y);
}

/** A synthetic MNIST-like digit: white strokes on black, values in [0,1]. */
export function syntheticDigit(digit: number, radius = 1.3, shift: Pt = [0, 0]): GrayImage {
  const strokes = STROKES[((Math.round(digit) % 10) + 10) % 10];
  const pixels: number[] = new Array<number>(MOCK_SIDE * MOCK_SIDE).fill(0);
  for (let y = 0; y < MOCK_SIDE; y++) {
    for (let x = 0; x < MOCK_SIDE; x++) {
      const px = x + 0.5 - shift[0];
      const py = y + 0.5 - shift[1];
      let d = Infinity;
      for (const line of strokes) {
        for (let i = 1; i < line.length; i++) d = Math.min(d, segDist(px, py, line[i - 1], line[i]));
      }
      pixels[y * MOCK_SIDE + x] = Math.max(0, Math.min(1, radius + 0.5 - d));
    }
  }
  return { width: MOCK_SIDE, height: MOCK_SIDE, pixels };
}

/** The digit the mock connector probes: thinner and shifted compared with the templates, so the match is not perfect. */
export function mockInput(digit: number): GrayImage {
  return syntheticDigit(digit, 1.1, [0.6, -0.4]);
}

// ---------------------------------------------------------------------------------------
// The model: logits_c = SCALE · (w_c · x), w_c = a normalised, blurred template minus the mean.

const SCALE = 3.5;

function buildWeights(): number[][] {
  const n = MOCK_SIDE * MOCK_SIDE;
  const templates = MOCK_CLASS_NAMES.map((_, c) => {
    const t = syntheticDigit(c, 2.2).pixels;
    const norm = Math.sqrt(t.reduce((s, v) => s + v * v, 0)) || 1;
    return t.map((v) => v / norm);
  });
  const mean = new Array<number>(n).fill(0);
  for (const t of templates) for (let i = 0; i < n; i++) mean[i] += t[i] / templates.length;
  return templates.map((t) => t.map((v, i) => v - mean[i]));
}

let weights: number[][] | null = null;
/** The model's weight vectors, one per class (built on first use). */
export function mockWeights(): readonly (readonly number[])[] {
  weights ??= buildWeights();
  return weights;
}

function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The mock model's logits for a 28×28 image. */
export function mockLogits(x: readonly number[]): number[] {
  return mockWeights().map((w) => SCALE * w.reduce((s, wi, i) => s + wi * (x[i] ?? 0), 0));
}

/** The mock model's prediction for a 28×28 image. */
export function mockPredict(x: readonly number[]): Prediction {
  const probs = softmax(mockLogits(x));
  let label = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[label]) label = c;
  return { label, className: MOCK_CLASS_NAMES[label], probs };
}

/** The most likely class other than the predicted one. */
export function runnerUp(p: Prediction): number {
  let best = -1;
  for (let c = 0; c < p.probs.length; c++) {
    if (c !== p.label && (best < 0 || p.probs[c] > p.probs[best])) best = c;
  }
  return best < 0 ? p.label : best;
}

/** ∂(cross-entropy against `cls`)/∂x for the linear model: SCALE · Σ_c (p_c − [c = cls]) w_c. */
export function lossGradient(x: readonly number[], cls: number): number[] {
  const { probs } = mockPredict(x);
  const w = mockWeights();
  const g = new Array<number>(x.length).fill(0);
  for (let c = 0; c < w.length; c++) {
    const coef = SCALE * (probs[c] - (c === cls ? 1 : 0));
    if (coef === 0) continue;
    for (let i = 0; i < g.length; i++) g[i] += coef * w[c][i];
  }
  return g;
}

/** L0 (pixels changed by more than L0_TOLERANCE), L2 and L∞ of a perturbation. */
export function distancesOf(delta: readonly number[]): Distances {
  let l0 = 0;
  let sq = 0;
  let linf = 0;
  for (const d of delta) {
    const a = Math.abs(d);
    if (a > L0_TOLERANCE) l0++;
    sq += d * d;
    if (a > linf) linf = a;
  }
  return { l0, l2: Math.sqrt(sq), linf };
}
