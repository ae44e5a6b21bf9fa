import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier } from '../../../src/cli/models';
import { decodePng } from '../../../src/cli/png';
import { ProbeError } from '../../../src/core/errors';
import { exportAdversarial, exportGoal } from '../../../src/core/lab/export';
import { adler32, crc32, encodePng8, encodePng8Compressed } from '../../../src/core/lab/png';
import type { Classifier } from '../../../src/core/models/types';
import { attackOne, classifyOne } from '../../../src/core/probe';

/** The PNG encoder, the export goal, and the export of real FGSM and CW-L2 adversarials of mnist-lenet (wasm). */
let lenet: Classifier;
const test = loadMnist('test');

beforeAll(async () => {
  await useNodeBackend('wasm');
  lenet = await loadShippedClassifier('mnist-lenet');
}, 120_000);
afterAll(() => lenet?.dispose());

describe('encodePng8', () => {
  it('writes a grayscale PNG that pngjs decodes to the same levels (CRC and zlib checked by the decoder)', () => {
    const levels = Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 37) % 256);
    const png = encodePng8(levels, 28, 28, 1);
    const back = PNG.sync.read(Buffer.from(png));
    expect([back.width, back.height]).toEqual([28, 28]);
    for (let i = 0; i < levels.length; i++) {
      expect(back.data[i * 4]).toBe(levels[i]);
      expect(back.data[i * 4 + 3]).toBe(255);
    }
  });

  it('writes RGB, and rows longer than one stored deflate block', () => {
    const w = 200;
    const h = 120; // (3·200 + 1)·120 = 72,120 bytes: two stored blocks
    const levels = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7 + (i >> 9)) % 256);
    const back = PNG.sync.read(Buffer.from(encodePng8(levels, w, h, 3)));
    for (const i of [0, 1, 2, 3 * w * 60 + 17, levels.length - 1]) {
      const px = Math.floor(i / 3);
      expect(back.data[px * 4 + (i % 3)]).toBe(levels[i]);
    }
  });

  it('the compressed variant (CompressionStream deflate) decodes to the same RGB levels and is far smaller for a smooth photo', async () => {
    const w = 640;
    const h = 480;
    const levels = Uint8Array.from({ length: w * h * 3 }, (_, i) => {
      const px = Math.floor(i / 3);
      return ((px % w) + Math.floor(px / w) + (i % 3) * 40) % 256;
    });
    const png = await encodePng8Compressed(levels, w, h, 3);
    const back = PNG.sync.read(Buffer.from(png));
    expect([back.width, back.height]).toEqual([w, h]);
    for (let px = 0; px < w * h; px += 997) for (let k = 0; k < 3; k++) expect(back.data[px * 4 + k]).toBe(levels[px * 3 + k]);
    expect(png.length).toBeLessThan(encodePng8(levels, w, h, 3).length / 10);
    await expect(encodePng8Compressed(new Uint8Array(5), 2, 2, 1)).rejects.toThrow(ProbeError);
  });

  it('checksums agree with Node zlib (adler via inflate, crc against a known value)', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(crc32(bytes)).toBe(0xcbf43926);
    expect(adler32(bytes)).toBe(0x091e01de);
    const png = encodePng8(new Uint8Array([1, 2, 3, 4]), 2, 2, 1);
    const idatStart = png.indexOf(0x49, 33); // 'I' of IDAT after IHDR
    const len = new DataView(png.buffer).getUint32(idatStart - 4);
    expect(Array.from(inflateSync(Buffer.from(png.subarray(idatStart + 4, idatStart + 4 + len))))).toEqual([0, 1, 2, 0, 3, 4]);
  });

  it('rejects bad shapes with BAD_INPUT', () => {
    expect(() => encodePng8(new Uint8Array(3), 2, 2, 1)).toThrow(ProbeError);
    expect(() => encodePng8(new Uint8Array(4), 0, 4, 1)).toThrow(/PNG size/);
    expect(() => encodePng8(new Uint8Array(8), 2, 2, 2 as 1)).toThrow(/1 or 3 channels/);
  });
});

describe('exportGoal', () => {
  it('untargeted FGSM L∞: away from the clean label within ε; targeted keeps the target; L2 and minimisation attacks: no budget', () => {
    expect(exportGoal({ attack: 'fgsm', params: { eps: 0.1, norm: 'inf' }, target: null }, 4)).toEqual({ goal: { label: 4, targeted: false }, maxLinf: 0.1 });
    expect(exportGoal({ attack: 'bim', params: { eps: 0.2, norm: '2' }, target: 3 }, 4)).toEqual({ goal: { label: 3, targeted: true }, maxLinf: null });
    expect(exportGoal({ attack: 'cw-l2', params: {}, target: 1 }, 4)).toEqual({ goal: { label: 1, targeted: true }, maxLinf: null });
    // A VAE attack's target is the VAE's; the exported bytes must move the classifier off its clean label.
    expect(exportGoal({ attack: 'vae-latent', params: {}, target: 1 }, 4).goal).toEqual({ label: 4, targeted: false });
    expect(() => exportGoal({ attack: 'nope', params: {}, target: null }, 0)).toThrow(/unknown attack/);
  });
});

describe('exportAdversarial on mnist-lenet', () => {
  const digit = (i: number): Float32Array => Float32Array.from(test.images.subarray(i * 784, (i + 1) * 784));

  it.each([
    ['fgsm', { eps: 0.25, norm: 'inf' }, null],
    ['cw-l2', { binarySteps: 4, maxIterations: 200, initialConst: 1 }, 3],
  ] as const)('%s: the decoded PNG bytes re-classify as the export says, and the tensors are freed', async (attack, params, target) => {
    const x = digit(0);
    const clean = await classifyOne(lenet, x);
    const before = tf.memory().numTensors;
    const out = await attackOne(lenet, x, clean, { attack, params, target });
    const ex = await exportAdversarial(lenet, x, Float32Array.from(out.adversarial.pixels), out.choice, clean.label);
    expect(tf.memory().numTensors).toBe(before);
    const img = decodePng(ex.png);
    expect([img.width, img.height, ex.channels]).toEqual([28, 28, 1]);
    const levels = Uint8Array.from({ length: 784 }, (_, i) => img.data[i * 4]);
    expect(Array.from(levels)).toEqual(Array.from(ex.quantized.levels));
    const again = await classifyOne(lenet, Float32Array.from(levels, (v) => v / 255));
    expect(again.label).toBe(ex.quantized.predicted);
    expect(again.probs[again.label]).toBeCloseTo(ex.quantized.confidence, 5);
    const holds = ex.goal.targeted ? again.label === ex.goal.label : again.label !== ex.goal.label;
    expect(holds).toBe(ex.quantized.success);
    expect(['nearest', 'away', 'search', 'failed']).toContain(ex.quantized.method);
    if (out.success) expect(ex.quantized.success).toBe(true);
    if (ex.maxLinf !== null) expect(ex.quantized.linf).toBeLessThanOrEqual(ex.maxLinf + 1e-6);
    console.log(`export ${attack}: attack success ${out.success}, method ${ex.quantized.method} (${ex.quantized.steps} steps), exported ${again.label} @ ${again.probs[again.label].toFixed(3)}`);
  });

  it('rejects a clean label outside the classes', async () => {
    const x = digit(1);
    await expect(exportAdversarial(lenet, x, x, { attack: 'fgsm', params: { eps: 0.1 }, target: null }, 10)).rejects.toThrow(/clean label/);
  });
});
