import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { ProbeError } from '../../../src/core/errors';
import { resampleArea, type RgbaImage } from '../../../src/core/image/preprocess';
import { exportFullResolution, fullResolutionSupported, MAX_FULL_EXPORT_SIDE, upsampleBilinear, type FullResolutionExport } from '../../../src/core/lab/export-full';
import { userModelInput } from '../../../src/core/lab/user-input';
import { classifierFromLayersModel } from '../../../src/core/models/layers';
import type { Classifier } from '../../../src/core/models/types';
import { validateUserModelSpec, type UserModelSpec } from '../../../src/core/models/user-spec';
import { attackOne, classifyOne } from '../../../src/core/probe';

/** Full-resolution export of a photo adversarial: a seeded RGB conv net on [32, 32, 3] in [−1, 1], a 300×200 synthetic photo (wasm). */
const CLASSES = ['a', 'b', 'c', 'd'];

function specOf(shape: [number, number, 1 | 3], preprocess: 'resize' | 'mnist' = 'resize'): UserModelSpec {
  return validateUserModelSpec({ id: 'user:test', format: 'layers', inputShape: shape, inputRange: { min: -1, max: 1 }, classNames: CLASSES, output: 'logits', classOffset: 0, preprocess });
}

function convNet(shape: [number, number, 1 | 3], seed: number): Classifier {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: shape, filters: 6, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: CLASSES.length, kernelInitializer: init(2) }),
    ],
  });
  return classifierFromLayersModel(m, { id: 'user:test', classNames: CLASSES, inputRange: { min: -1, max: 1 }, output: 'logits' });
}

/** A classifier that always says class 0, whatever it is shown. */
function stubborn(shape: [number, number, 1 | 3], onCall?: () => void): Classifier {
  return {
    id: 'user:stubborn', inputShape: shape, inputRange: { min: -1, max: 1 }, classNames: CLASSES,
    logits: (x) => {
      onCall?.();
      return tf.tidy(() => tf.tile(tf.tensor2d([[5, 0, 0, 0]]), [x.shape[0], 1]) as tf.Tensor2D);
    },
    dispose: () => undefined,
  };
}

/** A 300×200 gradient photo with a half-transparent band. */
function photo(W = 300, H = 200): RgbaImage {
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 4;
      data[p] = Math.round(40 + (170 * x) / W);
      data[p + 1] = Math.round(40 + (170 * y) / H);
      data[p + 2] = Math.round(128 + 80 * Math.sin(x / 17 + y / 23));
      data[p + 3] = y > 60 && y < 90 ? 160 : 255;
    }
  }
  return { width: W, height: H, data };
}

const opaque = (ex: FullResolutionExport): RgbaImage => {
  const data = new Uint8Array(ex.width * ex.height * 4);
  for (let i = 0; i < ex.width * ex.height; i++) {
    data.set(ex.rgb.subarray(i * 3, i * 3 + 3), i * 4);
    data[i * 4 + 3] = 255;
  }
  return { width: ex.width, height: ex.height, data };
};

const codeOf = async (p: Promise<unknown>): Promise<string | null> => {
  try {
    await p;
    return null;
  } catch (e) {
    return e instanceof ProbeError ? e.code : 'OTHER';
  }
};

const l2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
};

const SHAPE: [number, number, 3] = [32, 32, 3];
const spec = specOf(SHAPE);
const src = photo();
let model: Classifier;
let x0: Float32Array;

beforeAll(async () => {
  await useNodeBackend('wasm');
  model = convNet(SHAPE, 3);
  x0 = userModelInput(src, spec).pixels;
}, 60_000);
afterAll(() => model?.dispose());

describe('upsampleBilinear', () => {
  it('keeps a constant image constant, spreads 1×1 to any size', () => {
    const up = upsampleBilinear(new Float32Array(12).fill(0.3), 4, 3, 17, 11);
    expect(up.length).toBe(17 * 11);
    for (const v of up) expect(v).toBeCloseTo(0.3, 6);
    const one = upsampleBilinear(Float32Array.of(0.7), 1, 1, 5, 9);
    expect(Array.from(one).every((v) => Math.abs(v - 0.7) < 1e-6)).toBe(true);
  });

  it('is pixel-centre aligned: a linear ramp stays linear inside, edges clamp', () => {
    const up = upsampleBilinear(Float32Array.of(0, 1), 2, 1, 8, 1);
    // Output centres at (o + 0.5)·2/8 − 0.5: −0.375, −0.125 (clamped to 0), 0.125, …, 0.875, 1.125, 1.375 (clamped to 1).
    expect(Array.from(up).map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1]);
  });

  it('area-downsampling the upsample of a smooth image about returns it', () => {
    const w = 16;
    const h = 12;
    const img = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin((i % w) / 5) * Math.cos(Math.floor(i / w) / 4));
    const back = resampleArea(upsampleBilinear(img, w, h, 150, 97), 150, 97, w, h);
    let worst = 0;
    for (let i = 0; i < img.length; i++) worst = Math.max(worst, Math.abs(back[i] - img[i]));
    expect(worst).toBeLessThan(0.02);
  });
});

describe('fullResolutionSupported', () => {
  it('RGB and non-square grey (plain resize) yes; square grey (digit preprocessing) no', () => {
    expect(fullResolutionSupported(specOf([224, 224, 3]))).toBe(true);
    expect(fullResolutionSupported(specOf([16, 24, 1]))).toBe(true);
    expect(fullResolutionSupported(specOf([28, 28, 1], 'mnist'))).toBe(false);
    expect(fullResolutionSupported(specOf([28, 28, 1], 'resize'))).toBe(false);
  });
});

describe('exportFullResolution', () => {
  it('an FGSM adversarial at 32×32 exported at 300×200: opaque RGB whose bytes re-classify as reported, off the clean class; no tensor leak', async () => {
    const clean = await classifyOne(model, x0);
    const out = await attackOne(model, x0, clean, { attack: 'fgsm', params: { eps: 0.3, norm: 'inf' }, target: null });
    expect(out.success).toBe(true);
    const adv = Float32Array.from(out.adversarial.pixels);
    const before = tf.memory().numTensors;
    const ex = await exportFullResolution(model, spec, src, adv, { label: clean.label, targeted: false });
    expect(tf.memory().numTensors).toBe(before);
    expect([ex.width, ex.height, ex.rgb.length]).toEqual([300, 200, 300 * 200 * 3]);
    expect(ex.success).toBe(true);
    expect(['upsampled', 'back-projected', 'amplified']).toContain(ex.method);
    const x = userModelInput(opaque(ex), spec).pixels;
    const again = await classifyOne(model, x);
    expect(again.label).toBe(ex.predicted);
    expect(again.label).not.toBe(clean.label);
    expect(again.probs[again.label]).toBeCloseTo(ex.confidence, 5);
    // The reported distortions are those of the bytes returned.
    expect(ex.inputL2).toBeCloseTo(l2(x, x0), 4);
    let linf = 0;
    for (let i = 0; i < 300 * 200; i++) {
      const a = src.data[i * 4 + 3] / 255;
      for (let k = 0; k < 3; k++) linf = Math.max(linf, Math.abs(ex.rgb[i * 3 + k] / 255 - ((src.data[i * 4 + k] / 255) * a + 1 - a)));
    }
    expect(ex.linf).toBeCloseTo(linf, 6);
    expect(ex.residuals.length).toBe(ex.method === 'amplified' ? 7 : ex.iterations + 1);
    console.log(`full export fgsm: ${ex.method} after ${ex.iterations} corrections, residuals ${ex.residuals.map((r) => r.toFixed(3)).join(' → ')}, class ${ex.predicted} @ ${ex.confidence.toFixed(3)}, L∞ ${ex.linf.toFixed(3)}`);
  });

  it('maxLinf bounds the full-resolution perturbation (and so the model input\'s)', async () => {
    const clean = await classifyOne(model, x0);
    const eps = 0.3;
    const out = await attackOne(model, x0, clean, { attack: 'bim', params: { eps, stepSize: 0.05, steps: 10, norm: 'inf' }, target: null });
    expect(out.success).toBe(true);
    const ex = await exportFullResolution(model, spec, src, Float32Array.from(out.adversarial.pixels), { label: clean.label, targeted: false }, { maxLinf: eps });
    expect(ex.linf).toBeLessThanOrEqual(eps / 2 + 1 / 255); // the range is 2 wide: ε in [0, 1] units is ε/2
    expect(ex.inputLinf).toBeLessThanOrEqual(eps + 2 / 255);
    const x = userModelInput(opaque(ex), spec).pixels;
    expect((await classifyOne(model, x)).label).toBe(ex.predicted);
    expect(ex.success).toBe((await classifyOne(model, x)).label !== clean.label);
    // A budget far below the attack's clips the export too (whatever the verdict).
    const tight = await exportFullResolution(model, spec, src, Float32Array.from(out.adversarial.pixels), { label: clean.label, targeted: false }, { maxLinf: 0.02 });
    expect(tight.linf).toBeLessThanOrEqual(0.01 + 1 / 255);
    expect(tight.inputLinf).toBeLessThanOrEqual(0.02 + 2 / 255);
  });

  it.each([
    ['RGB 32×32', SHAPE],
    ['grey 16×24', [16, 24, 1] as [number, number, 1]],
  ] as const)('%s: back-projection brings the model input closer to the target; when nothing holds the closest bytes come back as failed', async (_name, shape) => {
    const s = specOf([...shape]);
    const base = userModelInput(src, s).pixels;
    // A high-frequency target the plain upsampling blurs: ±0.3 checkerboard.
    const target = Float32Array.from(base, (v, i) => Math.max(-1, Math.min(1, v + (((i / shape[2]) | 0) % 2 === 0 ? 0.3 : -0.3))));
    const before = tf.memory().numTensors;
    const ex = await exportFullResolution(stubborn([...shape]), s, src, target, { label: 0, targeted: false }, { maxIterations: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect([ex.method, ex.success, ex.iterations, ex.predicted]).toEqual(['failed', false, 5, 0]);
    expect(ex.residuals.length).toBe(6);
    expect(ex.residuals[5]).toBeLessThan(ex.residuals[0] * 0.7);
    const closest = Math.min(...ex.residuals);
    expect(l2(userModelInput(opaque(ex), s).pixels, target)).toBeCloseTo(closest, 3);
  });

  it('a checkerboard the plain upsampling blurs is recovered by back-projection (a detector that needs 80% of it)', async () => {
    // Class 1 scores the input's projection on a ±1 checkerboard above x0's; class 0 is a threshold at
    // 80% of the target's projection. The bilinear upsample keeps about half of a one-pixel checkerboard.
    const sign = Float32Array.from(x0, (_, i) => ((((i / 3) | 0) % 32) + (((i / 3 / 32) | 0))) % 2 === 0 ? 1 : -1);
    const target = Float32Array.from(x0, (v, i) => Math.max(-1, Math.min(1, v + 0.2 * sign[i])));
    const proj = (x: ArrayLike<number>): number => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += (x[i] - x0[i]) * sign[i];
      return s;
    };
    const threshold = 0.8 * proj(target);
    const s = tf.tensor4d(sign, [1, ...SHAPE]);
    const base = x0.reduce((a, v, i) => a + v * sign[i], 0);
    const detector: Classifier = {
      id: 'user:detector', inputShape: SHAPE, inputRange: { min: -1, max: 1 }, classNames: CLASSES,
      logits: (x) => tf.tidy(() => {
        const score = tf.sub(tf.sum(tf.mul(x, s), [1, 2, 3]), base).reshape([-1, 1]);
        return tf.concat([tf.fill([x.shape[0], 1], threshold), score, tf.fill([x.shape[0], 2], -1e4)], 1) as tf.Tensor2D;
      }),
      dispose: () => s.dispose(),
    };
    const before = tf.memory().numTensors;
    const ex = await exportFullResolution(detector, spec, src, target, { label: 1, targeted: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(ex.method).toBe('back-projected');
    expect(ex.success).toBe(true);
    expect(ex.iterations).toBeGreaterThanOrEqual(1);
    expect(ex.residuals[ex.iterations]).toBeLessThan(ex.residuals[0]);
    const x = userModelInput(opaque(ex), spec).pixels;
    expect(proj(x)).toBeGreaterThan(threshold);
    expect((await classifyOne(detector, x)).label).toBe(1);
    // The plain upsampling alone (no correction) does not reach it.
    const plain = await exportFullResolution(detector, spec, src, target, { label: 1, targeted: true }, { maxIterations: 0 });
    expect(plain.residuals.length).toBe(1);
    expect(plain.method === 'upsampled').toBe(false);
    console.log(`checkerboard: ${ex.method} after ${ex.iterations} corrections, residuals ${ex.residuals.map((r) => r.toFixed(3)).join(' → ')}; plain: ${plain.method}`);
    detector.dispose();
  });

  it('a clean "adversarial" (the source itself) comes back failed, at the clean class', async () => {
    const clean = await classifyOne(model, x0);
    const ex = await exportFullResolution(model, spec, src, x0, { label: clean.label, targeted: false }, { maxIterations: 2 });
    expect(ex.method).toBe('failed');
    expect(ex.success).toBe(false);
    expect(ex.predicted).toBe(clean.label);
    expect(ex.linf).toBeLessThanOrEqual(1 / 255);
  });

  it('rejects digit models, oversized or broken sources, wrong adversarials and labels with BAD_INPUT', async () => {
    const goal = { label: 0, targeted: false };
    const digit = specOf([28, 28, 1], 'mnist');
    await expect(exportFullResolution(stubborn([28, 28, 1]), digit, src, new Float32Array(784), goal)).rejects.toThrow(/photo models/);
    const big: RgbaImage = { width: MAX_FULL_EXPORT_SIDE + 1, height: 2, data: new Uint8Array((MAX_FULL_EXPORT_SIDE + 1) * 2 * 4) };
    const cases: Promise<unknown>[] = [
      exportFullResolution(stubborn([28, 28, 1]), digit, src, new Float32Array(784), goal),
      exportFullResolution(model, spec, big, x0, goal),
      exportFullResolution(model, spec, { width: 300, height: 200, data: new Uint8Array(10) }, x0, goal),
      exportFullResolution(model, spec, src, x0.subarray(1), goal),
      exportFullResolution(model, spec, src, Float32Array.from(x0, (v, i) => (i === 5 ? Number.NaN : v)), goal),
      exportFullResolution(model, spec, src, x0, { label: 4, targeted: true }),
      exportFullResolution(model, spec, src, x0, { label: 1.5, targeted: false }),
      exportFullResolution(model, spec, src, x0, goal, { maxLinf: -1 }),
      exportFullResolution(model, specOf([16, 16, 3]), src, new Float32Array(16 * 16 * 3), goal),
    ];
    for (const p of cases) expect(await codeOf(p)).toBe('BAD_INPUT');
    await expect(exportFullResolution(model, spec, big, x0, goal)).rejects.toThrow(/2048/);
  });

  it('honours the abort signal before and between iterations, freeing its tensors', async () => {
    const pre = new AbortController();
    pre.abort();
    expect(await codeOf(exportFullResolution(model, spec, src, x0, { label: 0, targeted: false }, { signal: pre.signal }))).toBe('CANCELLED');
    const ctl = new AbortController();
    let calls = 0;
    const before = tf.memory().numTensors;
    const p = exportFullResolution(stubborn(SHAPE, () => (++calls === 2 ? ctl.abort() : undefined)), spec, src, x0, { label: 0, targeted: false }, { signal: ctl.signal });
    expect(await codeOf(p)).toBe('CANCELLED');
    expect(calls).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });
});
