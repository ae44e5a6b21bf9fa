import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from './src/cli/backend';
import { loadShippedClassifier } from './src/cli/models';
import { tapeFreeVjp } from './src/core/models/chain';
await useNodeBackend('wasm');
const model = await loadShippedClassifier('mnist-lenet');
const vjp = tapeFreeVjp(model)!;
const x = tf.randomUniform([1, 28, 28, 1]) as tf.Tensor4D;
const oh = tf.oneHot(tf.tensor1d([3], 'int32'), 10).toFloat();
function run(n: number, f: () => tf.Tensor) { for (let i = 0; i < 20; i++) tf.dispose(f()); const t0 = performance.now(); for (let i = 0; i < n; i++) { const r = f(); tf.dispose(r); } const t = tf.tidy(() => tf.scalar(0)); t.dataSync(); t.dispose(); return (performance.now() - t0) / n; }
console.log('vjp ms', run(500, () => tf.tidy(() => { const r = vjp(x, (z) => tf.mul(z, oh) as tf.Tensor2D); return tf.add(r.grad, tf.sum(r.logits)); })));
console.log('logits ms', run(500, () => tf.tidy(() => model.logits(x))));
console.log('20 elementwise ops on 784 ms', run(500, () => tf.tidy(() => { let a: tf.Tensor = x; for (let i = 0; i < 20; i++) a = tf.add(a, 1e-3); return a; })));
console.log('20 tiny ops [1,10] ms', run(500, () => tf.tidy(() => { let a: tf.Tensor = oh; for (let i = 0; i < 20; i++) a = tf.add(a, 1e-3); return a; })));
