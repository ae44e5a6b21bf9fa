/**
 * A tape-free forward and backward pass for tfjs LayersModels that are a plain chain of Conv2D,
 * MaxPooling2D, Flatten, Dense and Dropout layers (activations linear, relu, sigmoid) (LeNet-style CNNs, softmax regression, MLPs).
 *
 * Every gradient-based attack needs, per step, the logits Z(x) and one vector–Jacobian product
 * ∇ₓ(dZ · Z) for a cotangent dZ that depends on Z (the cross-entropy seed of FGSM/BIM, CW's margin,
 * JSMA's rows). Through `tf.grad` that costs a recorded tape, the layers' own bookkeeping ops
 * (identity, cast, bias adds and activations as separate kernels) and gradients of the weights that
 * nobody asked for: 91 kernel calls for FGSM on LeNet. Here the forward pass uses fused kernels
 * (convolution or matmul + bias + activation in one) and the backward pass is written out (input
 * gradients only): about 30. On WebGPU, where every kernel call costs tens of microseconds of host time
 * (../shared/gpu.md), that is most of the attack's time; on every backend it skips the weight gradients.
 * On WebGPU and WebGL the backward pass also uses the fused kernels of kernels/fused.ts: a ReLU’s gradient in one
 * dispatch, and a max pool's gradient together with the ReLU under it in one (FGSM on 100 images on LeNet:
 * 33 GPU programs → 15 with the fused dJ/dZ and step; `fgsm-100-attack` of `npx tsx bench/dispatches.ts`).
 *
 * `compileChain` returns null for anything else (custom layers such as Maxout, branches, other
 * activations), and callers fall back to tf.grad. Correctness: tests/core/models/chain.test.ts checks
 * every shipped model that compiles against tf.grad.
 */
import * as tf from '@tensorflow/tfjs';
import { maxPoolGrad, reluGrad } from '../kernels/fused';

type Act = 'linear' | 'relu' | 'sigmoid';
const ACTS: readonly string[] = ['linear', 'relu', 'sigmoid'];

type Op =
  | { kind: 'conv'; filter: tf.Tensor4D; bias: tf.Tensor1D | null; strides: [number, number]; pad: 'valid' | 'same'; act: Act }
  | { kind: 'dense'; kernel: tf.Tensor2D; bias: tf.Tensor1D | null; act: Act }
  | { kind: 'maxpool'; pool: [number, number]; strides: [number, number]; pad: 'valid' | 'same' }
  | { kind: 'flatten' };

/** A compiled chain: logits and the input gradient of dZ · Z for a cotangent computed from the logits. */
export interface LayerChain {
  /** Number of layers compiled (for tests and diagnostics). */
  readonly ops: number;
  /** Logits for a batch (fused kernels; no tape). Caller owns the result. */
  forward(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Logits Z(x) and ∇ₓ Σ seed(Z) ⊙ Z, with seed(Z) treated as a constant (a vector–Jacobian product).
   * Caller owns both results; everything else is freed.
   */
  vjp(x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D): { logits: tf.Tensor2D; grad: tf.Tensor4D };
  /** As vjp, but a seed of null (a cotangent known to be zero) skips the backward pass: grad is then null. */
  vjpUnlessZero(x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D | null): { logits: tf.Tensor2D; grad: tf.Tensor4D | null };
}

const pair = (v: unknown): [number, number] | null => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return [v[0] as number, v[1] as number];
  return null;
};

interface LayerLike {
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  getWeights(): tf.Tensor[];
  inboundNodes?: { inboundLayers: unknown[] }[];
}

function activationOf(cfg: Record<string, unknown>): Act | null {
  const a = cfg.activation ?? 'linear';
  return typeof a === 'string' && ACTS.includes(a) ? (a as Act) : null;
}

/** One layer as an Op, [] for layers that are the identity at inference, or null if unsupported. */
function opOf(layer: LayerLike): Op[] | null {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  if (cls === 'InputLayer' || cls === 'Dropout') return [];
  if (cls === 'Flatten') return cfg.dataFormat === 'channelsFirst' ? null : [{ kind: 'flatten' }];
  if (cls === 'Activation') return null;
  const pad = cfg.padding === 'valid' || cfg.padding === 'same' ? cfg.padding : null;
  if (cls === 'Conv2D') {
    const act = activationOf(cfg);
    const strides = pair(cfg.strides ?? 1);
    const dilation = pair(cfg.dilationRate ?? 1);
    const w = layer.getWeights();
    if (!act || !strides || !pad || !dilation || dilation[0] !== 1 || dilation[1] !== 1) return null;
    if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast' || w.length < 1 || w[0].rank !== 4) return null;
    return [{ kind: 'conv', filter: w[0] as tf.Tensor4D, bias: cfg.useBias === false ? null : ((w[1] as tf.Tensor1D | undefined) ?? null), strides, pad, act }];
  }
  if (cls === 'Dense') {
    const act = activationOf(cfg);
    const w = layer.getWeights();
    if (!act || w.length < 1 || w[0].rank !== 2) return null;
    return [{ kind: 'dense', kernel: w[0] as tf.Tensor2D, bias: cfg.useBias === false ? null : ((w[1] as tf.Tensor1D | undefined) ?? null), act }];
  }
  if (cls === 'MaxPooling2D') {
    const p = pair(cfg.poolSize ?? 2);
    const s = pair(cfg.strides ?? cfg.poolSize ?? 2);
    if (!p || !s || !pad || (cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') return null;
    return [{ kind: 'maxpool', pool: p, strides: s, pad }];
  }
  return null;
}

/** dy ⊙ act′, written with the activation's output y (no recomputation). */
function actGrad(act: Act, dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (act === 'linear') return dy;
  if (act === 'relu') return reluGrad(dy, y);
  return tf.mul(dy, tf.mul(y, tf.sub(tf.onesLike(y), y)));
}

/**
 * Compiles `model` if it is a chain of supported layers (see the file comment) whose last layer emits
 * the logits (linear activation); returns null otherwise. The chain reads the model's weights at call
 * time (it holds no copies), so it must not outlive the model.
 */
export function compileChain(model: tf.LayersModel): LayerChain | null {
  const ops: Op[] = [];
  const layers = model.layers as unknown as LayerLike[];
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    // A chain: every layer after the first has exactly one inbound layer, the previous one.
    if (i > 0) {
      const nodes = l.inboundNodes ?? [];
      if (nodes.length !== 1 || nodes[0].inboundLayers.length !== 1 || nodes[0].inboundLayers[0] !== layers[i - 1]) return null;
    }
    const o = opOf(l);
    if (!o) return null;
    ops.push(...o);
  }
  if (model.outputs.length !== 1 || model.inputs.length !== 1) return null;
  const last = ops[ops.length - 1];
  if (!last || last.kind !== 'dense' || last.act !== 'linear') return null;

  interface Saved {
    input: tf.Tensor;
    output: tf.Tensor;
  }
  const run = (x: tf.Tensor4D, saved: Saved[] | null): tf.Tensor2D => {
    let h: tf.Tensor = x;
    for (const op of ops) {
      const input = h;
      if (op.kind === 'conv') {
        h = tf.fused.conv2d({ x: h as tf.Tensor4D, filter: op.filter, strides: op.strides, pad: op.pad, bias: op.bias ?? undefined, activation: op.act });
      } else if (op.kind === 'dense') {
        h = tf.fused.matMul({ a: h as tf.Tensor2D, b: op.kernel, bias: op.bias ?? undefined, activation: op.act });
      } else if (op.kind === 'maxpool') {
        h = tf.maxPool(h as tf.Tensor4D, op.pool, op.strides, op.pad);
      } else {
        h = tf.reshape(h, [h.shape[0], -1]);
      }
      saved?.push({ input, output: h });
    }
    return h as tf.Tensor2D;
  };

  const vjpUnlessZero = (x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D | null): { logits: tf.Tensor2D; grad: tf.Tensor4D | null } => {
    const out = tf.tidy(() => {
      const saved: Saved[] = [];
      const logits = run(x, saved);
      const d0 = seed(logits);
      if (d0 === null) return [logits];
      let d: tf.Tensor = d0;
      // Set when a max pool's gradient already includes the ReLU under it (one fused kernel on WebGPU and WebGL).
      let reluDone = false;
      for (let i = ops.length - 1; i >= 0; i--) {
        const op = ops[i];
        const { input, output } = saved[i];
        const act = (o: { act: Act }): Act => (reluDone ? 'linear' : o.act);
        if (op.kind === 'conv') {
          const dPre = actGrad(act(op), d, output);
          reluDone = false;
          d = tf.conv2dTranspose(dPre as tf.Tensor4D, op.filter, input.shape as [number, number, number, number], op.strides, op.pad);
        } else if (op.kind === 'dense') {
          const dPre = actGrad(act(op), d, output);
          reluDone = false;
          d = tf.matMul(dPre as tf.Tensor2D, op.kernel, false, true);
        } else if (op.kind === 'maxpool') {
          const below = i > 0 ? ops[i - 1] : null;
          const relu = below !== null && (below.kind === 'conv' || below.kind === 'dense') && below.act === 'relu';
          d = maxPoolGrad(d as tf.Tensor4D, input as tf.Tensor4D, output as tf.Tensor4D, op.pool, op.strides, op.pad, relu);
          reluDone = relu;
        } else {
          d = tf.reshape(d, input.shape);
        }
      }
      return [logits, d];
    });
    return { logits: out[0] as tf.Tensor2D, grad: (out[1] as tf.Tensor4D | undefined) ?? null };
  };

  return {
    ops: ops.length,
    forward(x: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => run(x, null));
    },
    vjp(x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D) {
      return vjpUnlessZero(x, seed) as { logits: tf.Tensor2D; grad: tf.Tensor4D };
    },
    vjpUnlessZero,
  };
}

/** A classifier's `logitsAndVjp`, tagged with the `logits` function it was made for. */
export type VjpFn = ((x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D) => { logits: tf.Tensor2D; grad: tf.Tensor4D }) & {
  readonly forLogits: unknown;
  /** LayerChain.vjpUnlessZero, where the model has it. */
  readonly unlessZero?: LayerChain['vjpUnlessZero'];
};

/** Tags `vjp` as the fast path of `logits` (see {@link tapeFreeVjp}), with its zero-skipping form if any. */
export function vjpFor(
  logits: unknown,
  vjp: (x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D) => { logits: tf.Tensor2D; grad: tf.Tensor4D },
  unlessZero?: LayerChain['vjpUnlessZero'],
): VjpFn {
  return Object.assign(vjp, { forLogits: logits, ...(unlessZero ? { unlessZero } : {}) });
}

/**
 * The model's tape-free VJP if it still belongs to its `logits`: a wrapper made by spreading a
 * classifier and replacing `logits` ({ ...m, logits: f }) keeps the old `logitsAndVjp`, which would
 * then silently differentiate the wrong function; this returns undefined for it, and callers use tf.grad.
 */
export function tapeFreeVjp(model: { logits: unknown; logitsAndVjp?: unknown }): VjpFn | undefined {
  const f = model.logitsAndVjp as VjpFn | undefined;
  return typeof f === 'function' && f.forLogits === model.logits ? f : undefined;
}
