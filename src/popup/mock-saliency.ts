/**
 * The mock connector's "JSMA saliency map for this image": the mock model is linear, so its logit Jacobian is
 * exact from differences; the map and A(X, t) follow Papernot et al.'s definition through the same
 * TF-free function the background uses (saliencyMapFromJacobian).
 */
import { ProbeError } from '../core/errors';
import { saliencyMapFromJacobian } from '../background/saliency-map';
import type { ProbeResult, SaliencyView } from '../protocol/types';
import { MOCK_CLASS_NAMES, MOCK_SIDE, mockLogits } from './mock-model';

/** The mock model's logit Jacobian, [C·N] flat (row c = ∂Z_c/∂x): exact differences, as the model is linear. */
export function mockJacobian(): Float64Array {
  const N = MOCK_SIDE * MOCK_SIDE;
  const C = MOCK_CLASS_NAMES.length;
  const x = new Array<number>(N).fill(0);
  const z0 = mockLogits(x);
  const jac = new Float64Array(C * N);
  for (let i = 0; i < N; i++) {
    x[i] = 1;
    const z = mockLogits(x);
    x[i] = 0;
    for (let c = 0; c < C; c++) jac[c * N + i] = z[c] - z0[c];
  }
  return jac;
}

/** The mock's saliency view of `result` toward `target` (BAD_INPUT for a bad target or the predicted class). */
export function mockSaliency(result: ProbeResult, target: number): SaliencyView {
  const C = MOCK_CLASS_NAMES.length;
  const label = result.prediction.label;
  if (!Number.isInteger(target) || target < 0 || target >= C) throw new ProbeError('BAD_INPUT', `The target must be one of the model's ${C} classes (0–${C - 1}).`);
  if (target === label) throw new ProbeError('BAD_INPUT', `The image is already classified as ${MOCK_CLASS_NAMES[label]}: pick another target class.`);
  const jac = mockJacobian();
  const N = MOCK_SIDE * MOCK_SIDE;
  const positiveOf = (m: Float64Array): number => m.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
  const map = saliencyMapFromJacobian(jac, C, target);
  const distances = MOCK_CLASS_NAMES.map((_, t) => t)
    .filter((t) => t !== label)
    .map((t) => ({ target: t, distance: 1 - positiveOf(saliencyMapFromJacobian(jac, C, t)) / N }));
  return {
    resultId: result.id, modelId: result.modelId, classNames: [...MOCK_CLASS_NAMES], label, target,
    width: MOCK_SIDE, height: MOCK_SIDE, map: Array.from(map), positive: positiveOf(map), distances, backend: 'mock', ms: 1,
  };
}
