import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, withTimeout } from '../../src/cli/browser';
import { maxRelativeError } from '../helpers/close';

/**
 * The fused kernels on WebGL (src/core/kernels/fused-webgl.ts), in a page of headless Chromium (SwiftShader's
 * WebGL 2, 32-bit float render targets; Node has no WebGL): every case of tests/helpers/fused-cases.ts as one
 * WebGL program, equal to tfjs's op path on WebGL and to the cpu backend; a LeNet-shaped attack step
 * (logits, dJ/dx, FGSM's and BIM's signed steps) equal to the op path in fewer programs; CW-L2's kernels
 * (tests/helpers/cw-cases.ts) and whole runs against the op path; no tensor leak.
 */
/** programs: every WebGL program run (uploads and read-back included); fused: those of fused-webgl.ts. */
type Run = { data: number[]; programs: number; fused: number; leaked: number };
interface Checks {
  backend: string;
  float32: boolean;
  fusedOnWebgl: boolean;
  cases: { name: string; cpu: number[] | null; ops: Run; fused: Run }[];
  step: { ops: Run; fused: Run; sizes: number[] };
  cw: {
    available: boolean;
    reference: Record<string, number[]>[];
    kernels: Record<string, number[]>[];
    best: { stepSuccDtype: string; bestL2: number[]; bestAdv: number[]; stepSucc: number[]; adv: number[]; prevBestAdv: number[] };
    leaked: number;
    runLeaked: number;
    runs: { fused: CwRun; ops: CwRun; perIterationFused: number; perIterationOps: number };
  };
}
type CwRun = { l2: number[]; success: boolean[]; programs: number };

let browser: Browser;
let got: Checks;

beforeAll(async () => {
  const bundle = await build({ entryPoints: ['tests/e2e/fixtures/webgl-kernels-page.ts'], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'warning' });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-first-run', '--disable-background-networking'] });
  const page = await browser.newPage();
  await page.goto('about:blank');
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  got = await withTimeout(page.evaluate(() => (globalThis as unknown as { webglKernelChecks(): Promise<Checks> }).webglKernelChecks()), 170_000, 'the WebGL checks');
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

describe('fused kernels on WebGL (headless Chromium)', () => {
  it('the page runs tfjs on webgl with 32-bit floats, and the fused kernels are active there', () => {
    expect(got.backend).toBe('webgl');
    expect(got.float32).toBe(true);
    expect(got.fusedOnWebgl).toBe(true);
    expect(got.cases.length).toBeGreaterThanOrEqual(9);
  });

  it('every case is one fused WebGL program (fewer programs in all than the op path), equal to the op path on WebGL and to the cpu backend, with no tensor leak', () => {
    for (const c of got.cases) {
      expect(c.fused.fused, c.name).toBe(1);
      expect(c.ops.fused, c.name).toBe(0);
      expect(c.fused.leaked, c.name).toBe(0);
      expect(c.fused.programs, c.name).toBeLessThan(c.ops.programs);
      for (const want of [c.ops.data, ...(c.cpu ? [c.cpu] : [])]) {
        expect(Math.max(...want.map(Math.abs)), c.name).toBeGreaterThan(0.01);
        expect(maxRelativeError(c.fused.data, want), c.name).toBeLessThan(1e-5);
      }
    }
  });

  it('a LeNet-shaped attack step (logits, dJ/dx, FGSM and BIM steps): the op path’s values in fewer programs', () => {
    const { ops, fused, sizes } = got.step;
    console.log(`WebGL programs per LeNet attack step on 4 images: op path ${ops.programs}, fused ${fused.programs}`);
    expect(fused.leaked).toBe(0);
    // At most 60% of the op path's programs.
    expect(fused.fused).toBeGreaterThan(0);
    expect(fused.programs).toBeLessThanOrEqual(0.6 * ops.programs);
    let at = 0;
    const parts = sizes.map((n) => {
      const part = { fused: fused.data.slice(at, at + n), ops: ops.data.slice(at, at + n) };
      at += n;
      return part;
    });
    expect(maxRelativeError(parts[0].fused, parts[0].ops)).toBeLessThan(1e-5);
    expect(maxRelativeError(parts[1].fused, parts[1].ops)).toBeLessThan(1e-4);
    // The signed steps: the same pixels (a sign can flip only where dJ/dx is ~0).
    for (const p of parts.slice(2)) {
      const same = p.fused.filter((v, i) => Math.abs(v - p.ops[i]) < 1e-6).length;
      expect(same / p.fused.length).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('CW-L2’s kernels (x′, ‖x′ − x₀‖², margin, seed, Adam) equal the op path on the cpu backend; the bookkeeping kernel keeps what improved', () => {
    const { available, reference, kernels, best, leaked } = got.cw;
    expect(available).toBe(true);
    expect(leaked).toBe(0);
    for (const [i, want] of reference.entries()) {
      const data = kernels[i];
      for (const k of ['adv', 'l2', 'w2', 'm2', 'v2']) expect(maxRelativeError(data[k], want[k]), k).toBeLessThan(1e-5);
      expect(data.margin).toEqual(want.margin);
      expect(data.seed).toEqual(want.seed);
    }
    expect(best.stepSuccDtype).toBe('bool');
    expect(best.bestL2).toEqual([Math.fround(0.7), Math.fround(0.1), Math.fround(1.2)]);
    expect(best.stepSucc).toEqual([1, 1, 1]);
    const per = best.adv.length / 3;
    expect(best.bestAdv).toEqual(best.adv.map((v, i) => (i < per ? v : best.prevBestAdv[i])));
  });

  it('a targeted CW-L2 run (c = 10, 40 steps, runner-up targets) on a LeNet-shaped net: the op path’s successes and distortions in fewer programs per iteration', () => {
    const { fused, ops, perIterationFused, perIterationOps } = got.cw.runs;
    console.log(`WebGL programs per CW-L2 iteration on 3 images: op path ${perIterationOps}, fused ${perIterationFused}; L2 fused ${fused.l2.join(' ')}, op path ${ops.l2.join(' ')}`);
    expect(got.cw.runLeaked).toBe(0);
    expect(fused.success).toEqual(ops.success);
    expect(fused.success.filter((x) => x).length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 3; i++) if (ops.success[i]) expect(Math.abs(fused.l2[i] - ops.l2[i])).toBeLessThan(0.01 * ops.l2[i]);
    expect(perIterationOps).toBeGreaterThanOrEqual(2 * perIterationFused);
  });
});
