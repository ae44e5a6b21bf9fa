/**
 * Papernot et al.'s single-feature adversarial saliency map, TF-free (the popup's mock uses it too).
 */
import { ProbeError } from '../core/errors';

/**
 * S(X, t)[i] = ∂Z_t/∂X_i · |Σ_{c≠t} ∂Z_c/∂X_i| where ∂Z_t/∂X_i > 0 and Σ_{c≠t} ∂Z_c/∂X_i < 0, else 0
 * (Papernot et al. eq. 8, θ = +1), from the Jacobian `jac` ([C·N], row c = ∂Z_c/∂X). The features with
 * S > 0 are exactly those that adversarialDistanceFromJacobian counts for A(X, t).
 */
export function saliencyMapFromJacobian(jac: ArrayLike<number>, classes: number, target: number): Float64Array {
  const N = jac.length / classes;
  if (!Number.isInteger(N) || N < 1) throw new ProbeError('BAD_INPUT', `Jacobian of ${jac.length} values does not split into ${classes} rows`);
  if (!Number.isInteger(target) || target < 0 || target >= classes) throw new ProbeError('BAD_INPUT', `target must be a class index in [0, ${classes - 1}]`);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const dt = jac[target * N + i];
    if (!(dt > 0)) continue;
    let others = 0;
    for (let c = 0; c < classes; c++) if (c !== target) others += jac[c * N + i];
    if (others < 0) out[i] = dt * -others;
  }
  return out;
}
