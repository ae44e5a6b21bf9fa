/**
 * Export of the current adversarial as an 8-bit PNG at model resolution (issue 6): the attack's
 * float32 adversarial rounded by quantizeAdversarial (nearest, away, search, or failed: the exported
 * bytes are re-classified), then encoded. The goal the bytes must still meet follows from the attack:
 * targeted attacks keep their target; untargeted ones (and the VAE attacks, whose own criterion is the
 * VAE's reconstruction, not this classifier) must move away from the clean prediction. A fixed-ε L∞
 * attack's ε bounds the rounding search. Pure TypeScript + TensorFlow.js.
 */
import { attackMeta } from '../attacks/specs';
import { ProbeError } from '../errors';
import { quantizeAdversarial, type QuantizedAdversarial, type QuantizeGoal } from '../image/quantize';
import type { Classifier } from '../models/types';
import { encodePng8 } from './png';

/** What the export needs to know about the attack that made the adversarial. */
export interface ExportChoice {
  readonly attack: string;
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** The target the attack used (null: untargeted). */
  readonly target: number | null;
}

/** The goal the exported bytes are checked against, and the L∞ budget of the rounding search (null: none). */
export function exportGoal(choice: ExportChoice, cleanLabel: number): { goal: QuantizeGoal; maxLinf: number | null } {
  const meta = attackMeta(choice.attack);
  if (!meta) throw new ProbeError('BAD_INPUT', `unknown attack "${choice.attack}"`);
  const targeted = meta.model === 'classifier' && choice.target !== null;
  const goal: QuantizeGoal = targeted ? { label: choice.target!, targeted: true } : { label: cleanLabel, targeted: false };
  const eps = choice.params.eps;
  const linfBudget = meta.model === 'classifier' && meta.kind === 'fixed-eps' && (choice.params.norm ?? 'inf') === 'inf' && typeof eps === 'number';
  return { goal, maxLinf: linfBudget ? (eps as number) : null };
}

/** The exported image: PNG bytes at model resolution, its 8-bit levels and what the model makes of them. */
export interface AdversarialExport {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly goal: QuantizeGoal;
  readonly maxLinf: number | null;
  readonly quantized: QuantizedAdversarial;
}

/**
 * Rounds `adversarial` (the model's input layout and range) to 8 bits keeping the attack if it can,
 * and encodes the bytes as PNG (grayscale for 1 channel, RGB for 3). Frees every tensor it makes.
 */
export async function exportAdversarial(model: Classifier, original: Float32Array, adversarial: Float32Array, choice: ExportChoice, cleanLabel: number): Promise<AdversarialExport> {
  const [h, w, c] = model.inputShape;
  if (c !== 1 && c !== 3) throw new ProbeError('BAD_INPUT', `PNG export takes 1- or 3-channel models, ${model.id} has ${c}`);
  if (!Number.isInteger(cleanLabel) || cleanLabel < 0 || cleanLabel >= model.classNames.length) throw new ProbeError('BAD_INPUT', `clean label must be a class index of ${model.id}`);
  const { goal, maxLinf } = exportGoal(choice, cleanLabel);
  const quantized = await quantizeAdversarial(model, original, adversarial, goal, maxLinf === null ? {} : { maxLinf });
  return { png: encodePng8(quantized.levels, w, h, c), width: w, height: h, channels: c, goal, maxLinf, quantized };
}
