/**
 * Full-resolution export of a photo adversarial (issue 6: "the adversarial image as PNG at model
 * resolution and, for photos, at full resolution; after 8-bit rounding it must still be adversarial").
 *
 * The attack ran on the model input x0 = D(F0): the page image F0 (W×H RGB, transparency over white)
 * area-resampled to h×w by userModelInput (D, a plain stretch) and mapped to the model's value range.
 * Its result x* is h×w. A full-resolution image F with D(F) ≈ x* is found by iterative back-projection,
 * as in super-resolution (Irani & Peleg 1991):
 *   1. Δ = U((x* − x0)/(max − min)): the model-resolution perturbation, bilinearly upsampled (U,
 *      pixel-centre aligned) to W×H; a grey model's value goes to R, G and B alike (the luminance
 *      weights sum to 1, so the grey input moves by the same amount);
 *   2. round F0 + Δ to 8-bit levels (clipped to [0, 1] and, with maxLinf, to the L∞ budget around F0),
 *      make the model input x = D(bytes) exactly as capture does, and classify it: the goal holds →
 *      done ('upsampled' at the first try, 'back-projected' after corrections);
 *   3. otherwise Δ += U((x* − x)/(max − min)): the residual the rounding, the clipping and the
 *      blur of D∘U left, projected back to full resolution; repeat up to maxIterations times;
 *   4. still failing: the last Δ scaled by 1.5, 2 and 3 (within the budget) — 'amplified';
 *   5. none holds: 'failed', and the back-projected bytes that came closest to x* (the smallest
 *      ‖x* − x‖₂) are returned, with success false.
 * Every verdict is the model's on the exact bytes returned. Memory: F0 and Δ are one W·H·3 Float32Array
 * each, the bytes one RGBA buffer reused, plus one copy of the best bytes. Pure TypeScript + TensorFlow.js.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { RgbaImage } from '../image/preprocess';
import type { QuantizeGoal } from '../image/quantize';
import type { Classifier } from '../models/types';
import type { UserModelSpec } from '../models/user-spec';
import { userModelInput } from './user-input';

/** Largest side (pixels) of a source image the full-resolution export takes. */
export const MAX_FULL_EXPORT_SIDE = 2048;

export type FullExportMethod = 'upsampled' | 'back-projected' | 'amplified' | 'failed';

export interface FullExportOptions {
  /** Back-projection corrections after the first try (default 6). */
  readonly maxIterations?: number;
  /** L∞ budget in model units (a fixed-ε attack's ε): bounds the full-resolution perturbation. */
  readonly maxLinf?: number;
  readonly signal?: AbortSignal;
}

export interface FullResolutionExport {
  /** W·H·3 levels, opaque RGB, row-major. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly method: FullExportMethod;
  /** Back-projection corrections made before the returned bytes (maxIterations for 'amplified' and 'failed'). */
  readonly iterations: number;
  /** Whether the exported bytes meet the goal, re-classified. */
  readonly success: boolean;
  readonly predicted: number;
  readonly confidence: number;
  /** max |exported − source| over the full-resolution RGB values, in [0, 1] units. */
  readonly linf: number;
  /** Distortion of the model input made from the exported bytes vs the one made from the source, model units. */
  readonly inputL2: number;
  readonly inputLinf: number;
  /** ‖x* − x‖₂ (model units) of each back-projection try, the first being the plain upsampling. */
  readonly residuals: readonly number[];
}

/** True when the model's preprocessing is the plain stretch resize (RGB, or grey and not square). */
export function fullResolutionSupported(spec: Pick<UserModelSpec, 'inputShape' | 'preprocess'>): boolean {
  const [h, w, c] = spec.inputShape;
  return c === 3 || (c === 1 && h !== w);
}

/** Source index and weight tables of 1-D linear interpolation n → m, pixel centres aligned. */
function axisTable(n: number, m: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const f = new Float32Array(m);
  for (let o = 0; o < m; o++) {
    const s = Math.min(n - 1, Math.max(0, ((o + 0.5) * n) / m - 0.5));
    const a = Math.floor(s);
    i0[o] = a;
    i1[o] = Math.min(n - 1, a + 1);
    f[o] = s - a;
  }
  return { i0, i1, f };
}

/**
 * out += scale · U(src): src is h×w×c (interleaved), out is H×W×oc; with c === 1 the value goes to
 * every one of the oc channels, else c must equal oc.
 */
function addUpsampled(src: Float32Array, w: number, h: number, c: number, out: Float32Array, W: number, H: number, oc: number, scale: number): void {
  const tx = axisTable(w, W);
  const ty = axisTable(h, H);
  for (let Y = 0; Y < H; Y++) {
    const r0 = ty.i0[Y] * w;
    const r1 = ty.i1[Y] * w;
    const fy = ty.f[Y];
    for (let X = 0; X < W; X++) {
      const a = tx.i0[X];
      const b = tx.i1[X];
      const fx = tx.f[X];
      const o = (Y * W + X) * oc;
      for (let k = 0; k < oc; k++) {
        const ch = c === 1 ? 0 : k;
        const top = src[(r0 + a) * c + ch] * (1 - fx) + src[(r0 + b) * c + ch] * fx;
        const bot = src[(r1 + a) * c + ch] * (1 - fx) + src[(r1 + b) * c + ch] * fx;
        out[o + k] += scale * (top * (1 - fy) + bot * fy);
      }
    }
  }
}

/** Bilinear upsampling of one w×h plane to dw×dh (pixel-centre aligned, edges clamped; align_corners = false). */
export function upsampleBilinear(src: Float32Array, w: number, h: number, dw: number, dh: number): Float32Array {
  if (src.length !== w * h) throw new ProbeError('BAD_INPUT', `expected ${w * h} values, got ${src.length}`);
  const out = new Float32Array(dw * dh);
  addUpsampled(src, w, h, 1, out, dw, dh, 1, 1);
  return out;
}

interface Verdict {
  readonly success: boolean;
  readonly predicted: number;
  readonly confidence: number;
}

/**
 * Exports `adversarial` (h·w·c, the model's range, made from userModelInput(source, spec)) at the
 * source's full resolution as 8-bit RGB that stays adversarial if it can (see the file comment).
 * BAD_INPUT for digit models, sources over MAX_FULL_EXPORT_SIDE, wrong lengths or labels; CANCELLED
 * when `opts.signal` aborts. Frees every tensor it makes.
 */
export async function exportFullResolution(
  model: Classifier,
  spec: UserModelSpec,
  source: RgbaImage,
  adversarial: Float32Array,
  goal: QuantizeGoal,
  opts: FullExportOptions = {},
): Promise<FullResolutionExport> {
  if (!fullResolutionSupported(spec)) {
    throw new ProbeError('BAD_INPUT', 'full-resolution export is for photo models (RGB, plain resize); digit models export at model resolution');
  }
  const [h, w, c] = spec.inputShape;
  if (model.inputShape.join() !== spec.inputShape.join()) throw new ProbeError('BAD_INPUT', `the model takes ${model.inputShape.join('×')}, the description says ${spec.inputShape.join('×')}`);
  const { width: W, height: H, data } = source;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) throw new ProbeError('BAD_INPUT', `the source image has no pixels (${W}×${H})`);
  if (W > MAX_FULL_EXPORT_SIDE || H > MAX_FULL_EXPORT_SIDE) throw new ProbeError('BAD_INPUT', `full-resolution export takes images up to ${MAX_FULL_EXPORT_SIDE} px a side, this one is ${W}×${H}`);
  if (data.length !== W * H * 4) throw new ProbeError('BAD_INPUT', `the source has ${data.length} RGBA bytes, expected ${W * H * 4}`);
  const n = h * w * c;
  if (adversarial.length !== n) throw new ProbeError('BAD_INPUT', `the adversarial has ${adversarial.length} values, expected ${h}×${w}×${c} = ${n}`);
  if (!adversarial.every((v) => Number.isFinite(v))) throw new ProbeError('BAD_INPUT', 'the adversarial must be finite');
  const classes = spec.classNames.length;
  if (!Number.isInteger(goal.label) || goal.label < 0 || goal.label >= classes) throw new ProbeError('BAD_INPUT', `label must be a class index below ${classes}, got ${goal.label}`);
  const maxIterations = opts.maxIterations ?? 6;
  if (!Number.isInteger(maxIterations) || maxIterations < 0) throw new ProbeError('BAD_INPUT', `maxIterations must be an integer ≥ 0, got ${maxIterations}`);
  if (opts.maxLinf !== undefined && !(opts.maxLinf >= 0 && Number.isFinite(opts.maxLinf))) throw new ProbeError('BAD_INPUT', `maxLinf must be a finite number ≥ 0, got ${opts.maxLinf}`);
  const checkCancel = (): void => {
    if (opts.signal?.aborted) throw new ProbeError('CANCELLED', 'Cancelled.');
  };
  checkCancel();

  const { min, max } = spec.inputRange;
  const span = max - min;
  const budget = opts.maxLinf === undefined ? Infinity : opts.maxLinf / span;
  const N = W * H;
  // F0: the source over white, [0, 1]; x0: the model input capture made from it.
  const f0 = new Float32Array(N * 3);
  for (let i = 0, p = 0; i < N; i++, p += 4) {
    const a = data[p + 3] / 255;
    for (let k = 0; k < 3; k++) f0[i * 3 + k] = (data[p + k] / 255) * a + (1 - a);
  }
  const x0 = userModelInput(source, spec).pixels;

  const delta = new Float32Array(N * 3);
  const diff = new Float32Array(n);
  for (let i = 0; i < n; i++) diff[i] = (adversarial[i] - x0[i]) / span;
  addUpsampled(diff, w, h, c, delta, W, H, 3, 1);

  const rgba = new Uint8Array(N * 4).fill(255);
  const image: RgbaImage = { width: W, height: H, data: rgba };
  /** rgba ← round(F0 + s·Δ), within [0, 1] and the budget (whole levels inside it where there are any). */
  const render = (s: number): void => {
    for (let i = 0, p = 0; i < N; i++, p += 4) {
      for (let k = 0; k < 3; k++) {
        const f = f0[i * 3 + k];
        const d = Math.min(budget, Math.max(-budget, s * delta[i * 3 + k]));
        let q = Math.round(Math.min(1, Math.max(0, f + d)) * 255);
        if (budget !== Infinity) {
          const lo = Math.ceil((f - budget) * 255 - 1e-6);
          const hi = Math.floor((f + budget) * 255 + 1e-6);
          if (lo <= hi) q = Math.min(hi, Math.max(lo, q));
        }
        rgba[p + k] = q;
      }
    }
  };
  const judge = async (x: Float32Array): Promise<Verdict> => {
    const probsT = tf.tidy(() => tf.softmax(model.logits(tf.tensor4d(x, [1, h, w, c]))));
    const probs = (await probsT.data()) as Float32Array;
    probsT.dispose();
    let predicted = 0;
    for (let k = 1; k < probs.length; k++) if (probs[k] > probs[predicted]) predicted = k;
    return { success: goal.targeted ? predicted === goal.label : predicted !== goal.label, predicted, confidence: probs[predicted] };
  };
  const finish = (rgb: Uint8Array, x: Float32Array, method: FullExportMethod, iterations: number, v: Verdict, residuals: number[]): FullResolutionExport => {
    let linf = 0;
    for (let i = 0; i < N * 3; i++) linf = Math.max(linf, Math.abs(rgb[i] / 255 - f0[i]));
    let l2 = 0;
    let inf = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(x[i] - x0[i]);
      l2 += d * d;
      inf = Math.max(inf, d);
    }
    return { rgb, width: W, height: H, method, iterations, ...v, linf, inputL2: Math.sqrt(l2), inputLinf: inf, residuals };
  };
  const rgbOf = (): Uint8Array => {
    const rgb = new Uint8Array(N * 3);
    for (let i = 0, p = 0; i < N; i++, p += 4) {
      rgb[i * 3] = rgba[p];
      rgb[i * 3 + 1] = rgba[p + 1];
      rgb[i * 3 + 2] = rgba[p + 2];
    }
    return rgb;
  };

  const residuals: number[] = [];
  let best: { rgb: Uint8Array; x: Float32Array; v: Verdict; residual: number } | null = null;
  for (let k = 0; k <= maxIterations; k++) {
    checkCancel();
    render(1);
    const x = userModelInput(image, spec).pixels;
    let r2 = 0;
    for (let i = 0; i < n; i++) {
      diff[i] = (adversarial[i] - x[i]) / span;
      r2 += (adversarial[i] - x[i]) ** 2;
    }
    const residual = Math.sqrt(r2);
    residuals.push(residual);
    const v = await judge(x);
    if (v.success) return finish(rgbOf(), x, k === 0 ? 'upsampled' : 'back-projected', k, v, residuals);
    if (best === null || residual < best.residual) best = { rgb: rgbOf(), x, v, residual };
    if (k < maxIterations) {
      addUpsampled(diff, w, h, c, delta, W, H, 3, 1);
      if (budget !== Infinity) for (let i = 0; i < N * 3; i++) delta[i] = Math.min(budget, Math.max(-budget, delta[i]));
    }
  }
  for (const s of [1.5, 2, 3]) {
    checkCancel();
    render(s);
    const x = userModelInput(image, spec).pixels;
    const v = await judge(x);
    if (v.success) return finish(rgbOf(), x, 'amplified', maxIterations, v, residuals);
  }
  const b = best!;
  return finish(b.rgb, b.x, 'failed', maxIterations, b.v, residuals);
}
