import { describe, expect, it } from 'vitest';
import { blankUnattacked, KOS_ATTACKS, kosRows, kosSources } from '../../../src/core/metrics/reproduce-kos';

describe('Kos et al. sources and rows', () => {
  const labels = [3, 0, 1, 0, 2, 1, 0, 2, 3, 1, 2, 3];
  it('takes the first k images of each class, in index order', () => {
    expect(kosSources(labels, 1, 4)).toEqual([0, 1, 2, 4]);
    expect(kosSources(labels, 2, 4)).toEqual([0, 1, 2, 3, 4, 5, 7, 8]);
    expect(() => kosSources(labels, 4, 4)).toThrow(/fewer than 4/);
    expect(() => kosSources(labels, 0, 4)).toThrow(/positive/);
  });
  it('attacks every source towards each other class', () => {
    const rows = kosRows([0, 1], labels, 4);
    expect(rows).toEqual([
      { index: 0, label: 3, target: 0 }, { index: 0, label: 3, target: 1 }, { index: 0, label: 3, target: 2 },
      { index: 1, label: 0, target: 1 }, { index: 1, label: 0, target: 2 }, { index: 1, label: 0, target: 3 },
    ]);
    expect(kosRows(kosSources(labels, 2, 4), labels, 4)).toHaveLength(2 * 4 * 3);
  });
  it('blanks the cells without attacks', () => {
    const m = blankUnattacked([[0, 0.5], [1, 0]], [[0, 2], [3, 0]]);
    expect(m[0][1]).toBe(0.5);
    expect(m[1][0]).toBe(1);
    expect(Number.isNaN(m[0][0]) && Number.isNaN(m[1][1])).toBe(true);
    expect(KOS_ATTACKS).toEqual(['vae-classifier', 'vae-latent']);
  });
});
