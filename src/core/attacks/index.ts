import type * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../models/types';
import { fgsm, type Norm } from './fgsm';

/** Parameters every registered attack understands. */
export interface AttackParams {
  readonly eps: number;
  readonly norm?: Norm;
  readonly y?: tf.Tensor1D;
  readonly targeted?: boolean;
}

export interface AttackSpec {
  readonly id: string;
  readonly name: string;
  /** Short citation of the paper that defines it. */
  readonly paper: string;
  /** 'fixed-eps': perturbation bounded by eps in `norms`; 'minimization': searches the smallest one. */
  readonly kind: 'fixed-eps' | 'minimization';
  readonly norms: readonly Norm[];
  readonly targeted: boolean;
  run(model: Classifier, x: tf.Tensor4D, params: AttackParams): tf.Tensor4D;
}

/** The only attack registry. README's attack table is checked against it by a test. */
export const ATTACKS: readonly AttackSpec[] = [
  {
    id: 'fgsm',
    name: 'Fast Gradient Sign Method',
    paper: 'Goodfellow et al. 2015',
    kind: 'fixed-eps',
    norms: ['inf', 2],
    targeted: true,
    run: (model, x, p) => fgsm(model, x, p),
  },
];

export function getAttack(id: string): AttackSpec | undefined {
  return ATTACKS.find((a) => a.id === id);
}

export { fgsm } from './fgsm';
export type { FgsmOptions, Norm } from './fgsm';
export { distances, distancesOf, L0_TOLERANCE } from './distances';
export { misclassified, targetedMisclassified, attackSucceeded } from './criteria';
