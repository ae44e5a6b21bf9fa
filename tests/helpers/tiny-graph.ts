/**
 * A tiny GraphModel in the converter's JSON format (the format of tfhub's MobileNet v2): input [-1,6,6,3] →
 * Reshape [-1,108] → MatMul w → BiasAdd b → logits [-1,5], a "background" class first. For the user-model tests.
 */
export const TINY_GRAPH = { H: 6, W: 6, C: 3, K: 4, N: 6 * 6 * 3 } as const;
const { H, W, C, K, N } = TINY_GRAPH;

/** The weights: w [N, K+1], b [K+1], and the Reshape's target shape. */
export function tinyGraphWeights(): { w: Float32Array; b: Float32Array; shape: Int32Array } {
  const w = Float32Array.from({ length: N * (K + 1) }, (_, i) => Math.sin(i * 0.37) * 0.3);
  const b = Float32Array.from({ length: K + 1 }, (_, i) => i * 0.01);
  return { w, b, shape: Int32Array.from([-1, N]) };
}

const dim = (...s: number[]) => ({ dim: s.map((v) => ({ size: String(v) })) });

/** The converter's modelTopology of the graph. */
export const TINY_GRAPH_TOPOLOGY = {
  node: [
    { name: 'input', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim(-1, H, W, C) } } },
    { name: 'w', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim(N, K + 1) } } } },
    { name: 'b', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim(K + 1) } } } },
    { name: 'shape', op: 'Const', attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: dim(2) } } } },
    { name: 'flat', op: 'Reshape', input: ['input', 'shape'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'mm', op: 'MatMul', input: ['flat', 'w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'logits', op: 'BiasAdd', input: ['mm', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
  ],
  versions: { producer: 1 },
};
