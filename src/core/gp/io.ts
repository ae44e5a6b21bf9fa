/**
 * On-disk format of the GPDNN's sparse variational GP (Bradshaw et al. 2017): `gp.json` (metadata,
 * hyperparameters, tensor manifest) + `gp.bin` (little-endian float32: Z [M,D], qMu [M,C], then the
 * packed lower triangles of qSqrt, [C, M(M+1)/2], row by row). Pure: no file access here.
 */
import * as tf from '@tensorflow/tfjs';
import type { SvgpParams } from './svgp';

/** Parsed gp.json. */
export interface GpJson {
  readonly format: 'gpdnn-svgp';
  readonly version: 1;
  /** Name of the feature-extractor layer the GP reads (documentation only). */
  readonly featureLayer: string;
  readonly features: number;
  readonly inducingPoints: number;
  readonly classes: number;
  readonly kernel: { readonly type: 'rbf'; readonly lengthscale: number; readonly variance: number };
  /** Kzz diagonal jitter, relative to the kernel variance. */
  readonly jitter: number;
  readonly whitened: true;
  readonly likelihood: { readonly type: 'robust-max'; readonly beta: number; readonly quadraturePoints: number };
  readonly weights: {
    readonly file: string;
    readonly dtype: 'float32';
    readonly tensors: readonly { readonly name: 'z' | 'qMu' | 'qSqrtTril'; readonly shape: readonly number[] }[];
  };
}

/** The fixed (post-training) GP of a GPDNN with its likelihood settings. */
export interface GpHead {
  readonly params: SvgpParams;
  readonly beta: number;
  readonly quadraturePoints: number;
  readonly featureLayer: string;
}

/** File name of the GP weights next to gp.json. */
export const GP_BIN = 'gp.bin';

/** Serialises a GP head: gp.json object and the gp.bin bytes. */
export function encodeGp(head: GpHead): { json: GpJson; bin: Uint8Array } {
  const { params: p } = head;
  const [m, d] = p.z.shape;
  const c = p.qMu.shape[1];
  const tri = (m * (m + 1)) / 2;
  const out = new Float32Array(m * d + m * c + c * tri);
  out.set(p.z.dataSync(), 0);
  out.set(p.qMu.dataSync(), m * d);
  const sq = p.qSqrt.dataSync();
  let o = m * d + m * c;
  for (let k = 0; k < c; k++) for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) out[o++] = sq[(k * m + i) * m + j];
  const num = (t: tf.Scalar | number): number => (typeof t === 'number' ? t : t.dataSync()[0]);
  const json: GpJson = {
    format: 'gpdnn-svgp',
    version: 1,
    featureLayer: head.featureLayer,
    features: d,
    inducingPoints: m,
    classes: c,
    kernel: { type: 'rbf', lengthscale: num(p.kernel.lengthscale), variance: num(p.kernel.variance) },
    jitter: p.jitter,
    whitened: true,
    likelihood: { type: 'robust-max', beta: head.beta, quadraturePoints: head.quadraturePoints },
    weights: {
      file: GP_BIN,
      dtype: 'float32',
      tensors: [{ name: 'z', shape: [m, d] }, { name: 'qMu', shape: [m, c] }, { name: 'qSqrtTril', shape: [c, tri] }],
    },
  };
  return { json, bin: new Uint8Array(out.buffer) };
}

/** Checks a parsed gp.json; throws with a reason if it is not one this code reads. */
export function parseGpJson(raw: unknown): GpJson {
  const j = raw as Partial<GpJson> | null;
  if (j == null || j.format !== 'gpdnn-svgp' || j.version !== 1) throw new Error('gp.json: not a gpdnn-svgp v1 file');
  if (j.kernel?.type !== 'rbf' || j.likelihood?.type !== 'robust-max' || j.whitened !== true) {
    throw new Error('gp.json: only a whitened RBF SVGP with a robust-max likelihood is supported');
  }
  const { inducingPoints: m, features: d, classes: c } = j;
  if (![m, d, c].every((v) => Number.isInteger(v) && (v as number) > 0)) throw new Error('gp.json: bad sizes');
  return j as GpJson;
}

/** Rebuilds the GP head (tensors owned by the caller) from gp.json and the gp.bin bytes. */
export function decodeGp(json: GpJson, bytes: Uint8Array): GpHead {
  const { inducingPoints: m, features: d, classes: c } = json;
  const tri = (m * (m + 1)) / 2;
  const n = m * d + m * c + c * tri;
  if (bytes.byteLength !== n * 4) throw new Error(`gp.bin: expected ${n * 4} bytes, got ${bytes.byteLength}`);
  const f = new Float32Array(bytes.slice().buffer, 0, n);
  const sq = new Float32Array(c * m * m);
  let o = m * d + m * c;
  for (let k = 0; k < c; k++) for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) sq[(k * m + i) * m + j] = f[o++];
  return {
    params: {
      z: tf.tensor2d(f.subarray(0, m * d), [m, d]),
      qMu: tf.tensor2d(f.subarray(m * d, m * d + m * c), [m, c]),
      qSqrt: tf.tensor3d(sq, [c, m, m]),
      kernel: { lengthscale: json.kernel.lengthscale, variance: json.kernel.variance },
      jitter: json.jitter,
    },
    beta: json.likelihood.beta,
    quadraturePoints: json.likelihood.quadraturePoints,
    featureLayer: json.featureLayer,
  };
}
