/**
 * The fixed benchmark workloads (issue "Performance"), pure tfjs: the same code times them in Node
 * (`probe bench`, bench/workloads.ts) and inside the built extension's service worker, on its real
 * backend (message 'probe/bench'). Every run reads its result back to the CPU (what the popup needs),
 * so times include the read-back.
 */
import * as tf from '@tensorflow/tfjs';
import { getAttack, resolveParams, type ClassifierAttackSpec, type VaeAttackSpec } from './attacks';
import { ProbeError } from './errors';
import type { Classifier, Uncertain, Vae } from './models/types';

export const WORKLOADS = ['classify-1', 'fgsm-1', 'fgsm-100', 'bim-1', 'jsma-1', 'cw-l2-1', 'lbfgs-1', 'vae-latent-1', 'gpdnn-1', 'suite-1'] as const;
export type Workload = (typeof WORKLOADS)[number];

export function isWorkload(v: unknown): v is Workload {
  return typeof v === 'string' && (WORKLOADS as readonly string[]).includes(v);
}

export interface BenchResult {
  readonly workload: Workload;
  readonly backend: string;
  readonly model: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** What one run does, in words. */
  readonly what: string;
  /** median / the same workload's median in the latest saved result on this backend (bench/results/). */
  readonly ratioToLast?: number;
}

/** MNIST images in [0, 1] (at least 100 × 28·28, row-major) and their labels. */
export interface BenchImages {
  readonly images: Float32Array;
  readonly labels: ArrayLike<number>;
}

export interface BenchModels {
  lenet: Classifier;
  gpdnn: Uncertain;
  vae: Vae;
  vaeClf: Classifier;
  examples: Float32Array[];
}

function classifierAttack(id: string): ClassifierAttackSpec {
  const a = getAttack(id);
  if (!a || a.model !== 'classifier') throw new ProbeError('BAD_INPUT', `no classifier attack ${id}`);
  return a;
}

function vaeAttack(id: string): VaeAttackSpec {
  const a = getAttack(id);
  if (!a || a.model !== 'vae') throw new ProbeError('BAD_INPUT', `no VAE attack ${id}`);
  return a;
}

/** One run of a workload; resolves when the result is on the CPU and every tensor is freed. */
type Run = () => Promise<void>;

function makeRuns(m: BenchModels, data: BenchImages): Record<Workload, { model: string; what: string; run: Run }> {
  const one = (i = 0): tf.Tensor4D => tf.tensor4d(data.images.subarray(i * 784, (i + 1) * 784), [1, 28, 28, 1]);
  const label = data.labels[0];
  const target = (label + 1) % 10;
  const attackOnce = async (id: string, x: tf.Tensor4D, targeted: boolean, model = m.lenet): Promise<void> => {
    const a = classifierAttack(id);
    const y = tf.tensor1d([targeted ? target : label], 'int32');
    const { adv } = await a.run(model, x, { params: resolveParams(a), y, targeted });
    const p = tf.tidy(() => tf.softmax(model.logits(adv)));
    await Promise.all([adv.data(), p.data()]);
    tf.dispose([adv, p, y]);
  };
  const vaeLatent = async (x: tf.Tensor4D): Promise<void> => {
    const a = vaeAttack('vae-latent');
    const ty = tf.tensor1d([target], 'int32');
    const tx = tf.tensor4d(m.examples[target], [1, 28, 28, 1]);
    const { adv } = await a.run({ vae: m.vae, classifier: m.vaeClf }, x, { params: resolveParams(a), targets: ty, targetExamples: tx });
    const r = tf.tidy(() => m.vae.decode(m.vae.encode(adv).mean));
    await Promise.all([adv.data(), r.data()]);
    tf.dispose([adv, r, ty, tx]);
  };
  const withOne = (f: (x: tf.Tensor4D) => Promise<void>): Run => async () => {
    const x = one();
    try {
      await f(x);
    } finally {
      x.dispose();
    }
  };
  return {
    'classify-1': {
      model: 'mnist-lenet', what: 'softmax of one image',
      run: withOne(async (x) => {
        const p = tf.tidy(() => tf.softmax(m.lenet.logits(x)));
        await p.data();
        p.dispose();
      }),
    },
    'fgsm-1': { model: 'mnist-lenet', what: 'FGSM ε=0.25 on one image + its prediction', run: withOne((x) => attackOnce('fgsm', x, false)) },
    'fgsm-100': {
      model: 'mnist-lenet', what: 'FGSM ε=0.25 on 100 images (one batch) + predictions',
      run: async () => {
        const x = tf.tensor4d(data.images.subarray(0, 100 * 784), [100, 28, 28, 1]);
        const a = classifierAttack('fgsm');
        const { adv } = await a.run(m.lenet, x, { params: resolveParams(a) });
        const p = tf.tidy(() => tf.softmax(m.lenet.logits(adv)));
        await Promise.all([adv.data(), p.data()]);
        tf.dispose([x, adv, p]);
      },
    },
    'bim-1': { model: 'mnist-lenet', what: 'BIM 40 steps of 0.01, ε=0.25, one image', run: withOne((x) => attackOnce('bim', x, false)) },
    'jsma-1': { model: 'mnist-lenet', what: `JSMA θ=+1 Υ=14.5%, test image 0 (a ${label}) → ${target}`, run: withOne((x) => attackOnce('jsma', x, true)) },
    'cw-l2-1': {
      model: 'mnist-lenet', what: `CW-L2, 9 constants, ≤1000 steps, abort early, test image 0 → ${target}`,
      run: withOne((x) => attackOnce('cw-l2', x, true)),
    },
    'lbfgs-1': { model: 'mnist-lenet', what: `box-constrained L-BFGS (defaults), test image 0 → ${target}`, run: withOne((x) => attackOnce('lbfgs', x, true)) },
    'vae-latent-1': { model: 'mnist-vae', what: `Kos et al. latent attack (L2 method, defaults), test image 0 → ${target}`, run: withOne(vaeLatent) },
    'gpdnn-1': {
      model: 'mnist-gpdnn', what: 'GPDNN predictive probabilities and variances of one image',
      run: withOne(async (x) => {
        const { probs, variance } = m.gpdnn.predictive(x);
        await Promise.all([probs.data(), variance.data()]);
        tf.dispose([probs, variance]);
      }),
    },
    'suite-1': {
      model: 'mnist-lenet', what: 'the popup suite on one image: classify, then FGSM, BIM, JSMA, CW-L2, L-BFGS and the VAE latent attack with defaults',
      run: withOne(async (x) => {
        const p = tf.tidy(() => tf.softmax(m.lenet.logits(x)));
        await p.data();
        p.dispose();
        await attackOnce('fgsm', x, false);
        await attackOnce('bim', x, false);
        await attackOnce('jsma', x, true);
        await attackOnce('cw-l2', x, true);
        await attackOnce('lbfgs', x, true);
        await vaeLatent(x);
      }),
    },
  };
}

export interface TimeOptions {
  readonly backend: string;
  readonly only?: readonly Workload[];
  /**
   * Timed runs per workload (after warm-up), exactly. Default: 5 for the slow ones; the fast ones warm up for
   * 0.3 s and are timed for at least 20 runs and 3 s (at most 1000 runs).
   */
  readonly runs?: number;
  /** The previous medians per workload on this backend, for ratioToLast. */
  readonly last?: ReadonlyMap<string, number>;
  readonly onResult?: (r: BenchResult) => void;
}

/** Warm-up and timing budget of the fast workloads when no run count is given (see timeWorkloads). */
const WARM_MS = 300;
const TIMED_MS = 3000;
const MAX_RUNS = 1000;

const SLOW: ReadonlySet<Workload> = new Set<Workload>(['cw-l2-1', 'lbfgs-1', 'suite-1']);

/** Warms up and times each workload; one result each (also passed to onResult as they finish). */
export async function timeWorkloads(models: BenchModels, data: BenchImages, opts: TimeOptions): Promise<BenchResult[]> {
  if (data.images.length < 100 * 784) throw new ProbeError('BAD_INPUT', 'the benchmark needs at least 100 images');
  const runs = makeRuns(models, data);
  const results: BenchResult[] = [];
  for (const w of opts.only ?? WORKLOADS) {
    const { model, what, run } = runs[w];
    const slow = SLOW.has(w);
    const minRuns = opts.runs ?? (slow ? 5 : 20);
    // Fast workloads (a few ms) are noisy over 20 runs (JIT warm-up, GC): without an explicit --runs they warm
    // up for WARM_MS and are timed for at least TIMED_MS (MAX_RUNS at most), so their median settles.
    const adaptive = opts.runs === undefined && !slow;
    const warmUntil = performance.now() + (adaptive ? WARM_MS : 0);
    for (let i = 0; i < (slow ? 1 : 3) || performance.now() < warmUntil; i++) await run();
    const times: number[] = [];
    let spent = 0;
    while (times.length < minRuns || (adaptive && spent < TIMED_MS && times.length < MAX_RUNS)) {
      const t0 = performance.now();
      await run();
      const dt = performance.now() - t0;
      times.push(dt);
      spent += dt;
    }
    const n = times.length;
    times.sort((a, b) => a - b);
    const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    const round = (v: number): number => Math.round(v * 100) / 100;
    const prev = opts.last?.get(w);
    const r: BenchResult = {
      workload: w, backend: opts.backend, model, runs: n, medianMs: round(median), minMs: round(times[0]), maxMs: round(times[n - 1]), what,
      ...(prev ? { ratioToLast: round(median / prev) } : {}),
    };
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}
