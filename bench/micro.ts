/**
 * Micro-workloads that match the reference table of the GPU notes (LeNet-size CNN 32c5-64c5-fc200:
 * forward of one image, FGSM on 100, the 10×784 Jacobian of one JSMA step, one CW-L2 Adam step on
 * 900 images, a 2048² matmul), timed on whatever tfjs backend is active, with the same statistics as
 * `probe bench`. `bench/gpu_reference.py` times the same five in PyTorch on the same card.
 */
import * as tf from '@tensorflow/tfjs';
import { getAttack, resolveParams } from '../src/core/attacks';
import { cwL2 } from '../src/core/attacks/cw';
import { fgsm } from '../src/core/attacks/fgsm';
import { deviceScalar } from '../src/core/tensors';
import type { Classifier } from '../src/core/models/types';

export const MICRO_WORKLOADS = ['forward-1', 'fgsm-100', 'jacobian-1', 'cw-step-900', 'matmul-2048', 'op-add-tensor', 'op-add-number', 'profile'] as const;
export type MicroWorkload = (typeof MICRO_WORKLOADS)[number];

export interface MicroResult {
  readonly workload: MicroWorkload;
  readonly backend: string;
  readonly runs: number;
  /** Per unit (see `unit`). */
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly unit: string;
  readonly tflops?: number;
  /** 'profile' only: per case, wall vs summed kernel time (tf.time) and the kernels by total time (tf.profile). */
  readonly profile?: Record<string, unknown>;
}

/** Kernels of one tf.profile run, grouped by name: count and summed kernel ms (null where the backend has no timer). */
async function kernelTable(f: () => tf.Tensor): Promise<{ name: string; count: number; ms: number | null }[]> {
  const info = await tf.profile(() => f());
  const by = new Map<string, { count: number; ms: number | null }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : null;
    const e = by.get(k.name) ?? { count: 0, ms: ms === null ? null : 0 };
    e.count++;
    if (e.ms !== null && ms !== null) e.ms += ms;
    by.set(k.name, e);
  }
  tf.dispose(info.result as tf.TensorContainer);
  return [...by].map(([name, e]) => ({ name, count: e.count, ms: e.ms === null ? null : round(e.ms) })).sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0) || b.count - a.count);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const round = (v: number): number => Math.round(v * 1000) / 1000;

async function time(run: () => Promise<void>, warm: number, runs: number): Promise<number[]> {
  for (let i = 0; i < warm; i++) await run();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Runs the micro-workloads on `model` (mnist-lenet) with `images` (≥ 900 MNIST test images, [0, 1]). */
export async function runMicro(
  model: Classifier,
  images: Float32Array,
  opts: { runs?: number; only?: readonly MicroWorkload[]; cwSteps?: number; onResult?: (r: MicroResult) => void } = {},
): Promise<MicroResult[]> {
  const runs = opts.runs ?? 20;
  const backend = tf.getBackend();
  const results: MicroResult[] = [];
  const emit = (workload: MicroWorkload, times: number[], unit: string, per = 1, flop?: number): void => {
    const t = times.map((v) => v / per);
    const med = median(t);
    const r: MicroResult = {
      workload, backend, runs: times.length, medianMs: round(med), minMs: round(Math.min(...t)), maxMs: round(Math.max(...t)), unit,
      ...(flop ? { tflops: round(flop / (med * 1e-3) / 1e12) } : {}),
    };
    results.push(r);
    opts.onResult?.(r);
  };
  const want = (w: MicroWorkload): boolean => !opts.only || opts.only.includes(w);

  if (want('forward-1')) {
    const x = tf.tensor4d(images.subarray(0, 784), [1, 28, 28, 1]);
    emit('forward-1', await time(async () => {
      const z = model.logits(x);
      await z.data();
      z.dispose();
    }, 5, runs), 'ms per forward of 1 image, logits read back');
    x.dispose();
  }
  if (want('fgsm-100')) {
    const x = tf.tensor4d(images.subarray(0, 100 * 784), [100, 28, 28, 1]);
    const a = getAttack('fgsm');
    if (!a || a.model !== 'classifier') throw new Error('no fgsm');
    const params = resolveParams(a);
    emit('fgsm-100', await time(async () => {
      const { adv } = await a.run(model, x, { params });
      await adv.data();
      adv.dispose();
    }, 3, runs), 'ms per FGSM on 100 images (the registry attack), adversarials read back');
    x.dispose();
  }
  if (want('jacobian-1')) {
    const x = tf.tensor4d(images.subarray(0, 784), [1, 28, 28, 1]);
    const k = model.classNames.length;
    const eye = tf.eye(k);
    const jac = (v: tf.Tensor): tf.Tensor => tf.sum(tf.mul(model.logits(v as tf.Tensor4D), eye));
    emit('jacobian-1', await time(async () => {
      const j = tf.tidy(() => tf.grad(jac)(tf.tile(x, [k, 1, 1, 1])));
      await j.data();
      j.dispose();
    }, 3, runs), `ms per ${k}×784 Jacobian of the logits of 1 image (one batched backward), read back`);
    tf.dispose([x, eye]);
  }
  if (want('cw-step-900')) {
    // The attack's own loop: (T(2s) − T(s)) / s for s Adam steps at one constant, abort-early off, so that
    // set-up and the final check cancel out; includes its status read-backs (every 20 steps).
    const s = opts.cwSteps ?? 100;
    const x = tf.tensor4d(images.subarray(0, 900 * 784), [900, 28, 28, 1]);
    const cw = (steps: number) => async (): Promise<void> => {
      // Status read back every 20 steps, as the PyTorch reference syncs (bench/gpu_reference.py: "20 per sync").
      const { adv } = await cwL2(model, x, { binarySteps: 1, maxIterations: steps, abortEarly: false, abortChecks: Math.max(1, Math.round(steps / 20)) });
      await adv.data();
      adv.dispose();
    };
    await cw(s)();
    const n = Math.max(3, Math.round(runs / 4));
    const t1 = await time(cw(s), 0, n);
    const t2 = await time(cw(2 * s), 0, n);
    const per = t2.map((v, i) => (v - t1[i]) / s);
    emit('cw-step-900', per, `ms per CW-L2 Adam step on 900 images ((T(${2 * s} steps) − T(${s})) / ${s}, ${n} pairs)`);
    x.dispose();
  }
  if (want('matmul-2048')) {
    const a = tf.randomNormal([2048, 2048], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2048, 2048], 0, 1, 'float32', 2);
    const chain = 10;
    emit('matmul-2048', await time(async () => {
      const r = tf.tidy(() => {
        let acc = tf.scalar(0);
        for (let i = 0; i < chain; i++) acc = tf.add(acc, tf.sum(tf.slice(tf.matMul(a, b), [0, 0], [1, 1])));
        return acc;
      });
      await r.data();
      r.dispose();
    }, 2, Math.max(3, Math.round(runs / 4))), `ms per 2048² fp32 matmul (${chain} per read-back)`, chain, 2 * 2048 ** 3);
    tf.dispose([a, b]);
  }
  for (const [w, useTensor] of [['op-add-tensor', true], ['op-add-number', false]] as const) {
    if (!want(w)) continue;
    const t0 = tf.zeros([78400]);
    const y = tf.fill([78400], 1e-3);
    const chain = 200;
    emit(w, await time(async () => {
      const r = tf.tidy(() => {
        let t: tf.Tensor = t0;
        for (let i = 0; i < chain; i++) t = useTensor ? tf.add(t, y) : tf.add(t, 1e-3);
        return tf.sum(t);
      });
      await r.data();
      r.dispose();
    }, 2, Math.max(3, Math.round(runs / 4))), `ms per element-wise add on 78,400 elements, ${useTensor ? 'a tensor' : 'a JS number'} operand (${chain} chained)`, chain);
    tf.dispose([t0, y]);
  }
  if (want('profile')) {
    // Where the time of FGSM on 100 and of one CW step on 900 goes: tf.time (wall vs kernel ms) and the kernels.
    const x100 = tf.tensor4d(images.subarray(0, 100 * 784), [100, 28, 28, 1]);
    const x900 = tf.tensor4d(images.subarray(0, 900 * 784), [900, 28, 28, 1]);
    const a = getAttack('fgsm');
    if (!a || a.model !== 'classifier') throw new Error('no fgsm');
    const params = resolveParams(a);
    const y = tf.tensor1d(Array.from({ length: 100 }, (_, i) => i % 10), 'int32');
    const fgsmOnce = (): tf.Tensor => fgsm(model, x100, { eps: params.eps as number, y });
    const cwState = tf.tidy(() => {
      const n = x900.shape[0];
      const k = model.classNames.length;
      const w0 = tf.atanh(tf.mul(tf.sub(tf.mul(x900, 2), 1), 0.999999)) as tf.Tensor4D;
      return { w0, m0: tf.zerosLike(w0), v0: tf.zerosLike(w0), oneHot: tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % k), 'int32'), k).toFloat() as tf.Tensor2D };
    });
    const cwStepOnce = (): tf.Tensor => cwStepReplica(model, x900, cwState);
    const profile: Record<string, unknown> = {};
    for (const [name, f] of [['fgsm-100', fgsmOnce], ['cw-step-900', cwStepOnce]] as const) {
      for (let i = 0; i < 2; i++) {
        const r = f();
        await r.data();
        r.dispose();
      }
      let timing: unknown = null;
      try {
        let out: tf.Tensor | undefined;
        const t = await tf.time(() => {
          out = f();
        });
        if (out) {
          await out.data();
          out.dispose();
        }
        timing = { wallMs: round(t.wallMs), kernelMs: typeof t.kernelMs === 'number' ? round(t.kernelMs) : null };
      } catch (e) {
        timing = { error: String(e) };
      }
      let kernels: unknown = null;
      try {
        kernels = await kernelTable(f);
      } catch (e) {
        kernels = { error: String(e) };
      }
      profile[name] = { timing, kernels };
    }
    tf.dispose([x100, x900, y, cwState.w0, cwState.m0, cwState.v0, cwState.oneHot]);
    const r: MicroResult = { workload: 'profile', backend, runs: 1, medianMs: 0, minMs: 0, maxMs: 0, unit: 'see profile', profile };
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}

/** One step of CW-L2's inner loop as written in cw.ts (forward, f6, gradient, Adam), c = 1, for profiling. */
function cwStepReplica(model: Classifier, x0: tf.Tensor4D, s: { w0: tf.Tensor4D; m0: tf.Tensor4D; v0: tf.Tensor4D; oneHot: tf.Tensor2D }): tf.Tensor {
  const { w0, m0, v0, oneHot } = s;
  return tf.tidy(() => {
    const n = x0.shape[0];
    const one = deviceScalar(1);
    const half = deviceScalar(0.5);
    const { grad } = tf.valueAndGrad((w: tf.Tensor): tf.Scalar => {
      const a = tf.mul(tf.add(tf.tanh(w), one), half) as tf.Tensor4D;
      const l2 = tf.sum(tf.square(tf.reshape(tf.sub(a, x0), [n, -1])), 1);
      const z = model.logits(a);
      const real = tf.sum(tf.mul(z, oneHot), 1);
      const other = tf.max(tf.sub(z, tf.mul(oneHot, deviceScalar(1e10))), 1);
      return tf.sum(tf.add(l2, tf.maximum(tf.sub(other, real), deviceScalar(0))));
    })(w0, deviceScalar(1));
    const m = tf.add(tf.mul(m0, deviceScalar(0.9)), tf.mul(grad, deviceScalar(0.1)));
    const v = tf.add(tf.mul(v0, deviceScalar(0.999)), tf.mul(tf.square(grad), deviceScalar(0.001)));
    return tf.sub(w0, tf.mul(tf.div(m, tf.add(tf.sqrt(v), deviceScalar(1e-8))), deviceScalar(0.01)));
  });
}
