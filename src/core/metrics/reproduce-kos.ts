/**
 * Kos, Fischer & Song 2017 as reproduced by `probe reproduce`: the sources (the first k test images
 * of each class), their attack rows (each source towards its 9 other classes), and the matrix shown
 * as a heatmap (pairs without attacks blank). Pure: no tensors, no file access.
 */
import { ProbeError } from '../errors';

/** The attacks of the Kos et al. section (registry ids, registry defaults). */
export const KOS_ATTACKS = ['vae-classifier', 'vae-latent'] as const;
export type KosAttackId = (typeof KOS_ATTACKS)[number];

/** Test-set indices of the first k images of each class, in index order; throws when a class has fewer than k. */
export function kosSources(labels: ArrayLike<number>, k: number, classes = 10): number[] {
  if (!Number.isInteger(k) || k < 1) throw new ProbeError('BAD_INPUT', `kosSources: k must be a positive integer, got ${k}`);
  const taken = new Array<number>(classes).fill(0);
  const out: number[] = [];
  for (let i = 0; i < labels.length && out.length < k * classes; i++) {
    const y = labels[i];
    if (y >= 0 && y < classes && taken[y] < k) {
      taken[y]++;
      out.push(i);
    }
  }
  if (out.length < k * classes) throw new ProbeError('BAD_INPUT', `kosSources: fewer than ${k} images of some class`);
  return out;
}

export interface KosRow {
  /** Index of the source in the test set. */
  readonly index: number;
  readonly label: number;
  readonly target: number;
}

/** Every source towards each of its classes − 1 other classes, targets in increasing order. */
export function kosRows(sources: readonly number[], labels: ArrayLike<number>, classes = 10): KosRow[] {
  const rows: KosRow[] = [];
  for (const index of sources) {
    const label = labels[index];
    for (let t = 0; t < classes; t++) if (t !== label) rows.push({ index, label, target: t });
  }
  return rows;
}

/** The matrix with the cells without attacks (counts 0, the diagonal among them) set to NaN, for the heatmap. */
export function blankUnattacked(values: readonly (readonly number[])[], counts: readonly (readonly number[])[]): number[][] {
  return values.map((row, s) => row.map((v, t) => (counts[s]?.[t] > 0 ? v : Number.NaN)));
}
