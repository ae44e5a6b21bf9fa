import { describe, expect, it } from 'vitest';
import {
  allTargetPairs, changedFraction, finiteRange, offDiagonal, pairMatrices, PAPERNOT_SETS, pearson, setSource, summarise, VALIDATION_START, type PapernotRun,
} from '../../../src/core/metrics/reproduce-papernot';

describe('Papernot et al. helpers', () => {
  it('sources: training from image 0, validation = the last 10,000 training images, test from image 0', () => {
    expect(PAPERNOT_SETS).toEqual(['training', 'validation', 'test']);
    expect(setSource('training')).toEqual({ split: 'train', start: 0 });
    expect(setSource('validation')).toEqual({ split: 'train', start: 50000 });
    expect(VALIDATION_START + 10000).toBe(60000);
    expect(setSource('test')).toEqual({ split: 'test', start: 0 });
  });

  it('allTargetPairs: every source towards each of its C − 1 other classes', () => {
    const p = allTargetPairs([3, 0], 4);
    expect(p).toEqual([
      { row: 0, target: 0 }, { row: 0, target: 1 }, { row: 0, target: 2 },
      { row: 1, target: 1 }, { row: 1, target: 2 }, { row: 1, target: 3 },
    ]);
    expect(allTargetPairs(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 10)).toHaveLength(90);
  });

  it('changedFraction counts components moved by more than the L0 tolerance, per image', () => {
    const x = new Float32Array([0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]);
    const adv = new Float32Array([1, 1, 0, 0, 0.5, 0.5, 0.5 + 1e-8, 1]);
    expect(changedFraction(x, adv, 4)).toEqual([0.5, 0.25]);
    expect(() => changedFraction(x, adv.subarray(0, 6), 4)).toThrow();
  });

  const runs: PapernotRun[] = [
    { index: 0, source: 0, target: 1, success: true, distortion: 0.02 },
    { index: 0, source: 0, target: 2, success: false, distortion: 0.14 },
    { index: 1, source: 1, target: 0, success: true, distortion: 0.04 },
    { index: 2, source: 0, target: 1, success: true, distortion: 0.06 },
  ];

  it('summarise: success rate, distortion over all and over successful samples', () => {
    const s = summarise(runs);
    expect(s).toMatchObject({ runs: 4, successes: 3, successRate: 0.75 });
    expect(s.distortionAll).toBeCloseTo(0.065, 12);
    expect(s.distortionSuccessful).toBeCloseTo(0.04, 12);
    expect(s.maxDistortionSuccessful).toBeCloseTo(0.06, 12);
    expect(s.sdDistortionSuccessful).toBeCloseTo(0.02, 12);
    expect(summarise([]).successRate).toBeNaN();
  });

  it('pairMatrices: per (source, target) counts, success rates and distortion of successes; NaN without runs', () => {
    const m = pairMatrices(runs, 3);
    expect(m.count).toEqual([[0, 2, 1], [1, 0, 0], [0, 0, 0]]);
    expect(m.successRate[0][1]).toBe(1);
    expect(m.successRate[0][2]).toBe(0);
    expect(m.successRate[1][0]).toBe(1);
    expect(m.successRate[0][0]).toBeNaN();
    expect(m.distortionSuccessful[0][1]).toBeCloseTo(0.04, 12);
    expect(m.distortionSuccessful[0][2]).toBeNaN();
    expect(finiteRange(m.successRate)).toEqual([0, 1]);
    expect(finiteRange([[Number.NaN]])).toEqual([Number.NaN, Number.NaN]);
  });

  it('offDiagonal and pearson: the correlation over the pairs where both are finite', () => {
    expect(offDiagonal([[1, 2, 3], [4, 5, 6], [7, 8, 9]])).toEqual([2, 3, 4, 6, 7, 8]);
    expect(pearson([1, 2, 3, Number.NaN], [2, 4, 6, 1])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    // x = (0, 1, 2, 3), y = (1, 0, 3, 2): Σ(x − x̄)(y − ȳ) = 3, Σ(x − x̄)² = Σ(y − ȳ)² = 5.
    expect(pearson([0, 1, 2, 3], [1, 0, 3, 2])).toBeCloseTo(0.6, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(pearson([1], [1])).toBeNaN();
    expect(() => pearson([1, 2], [1])).toThrow(RangeError);
  });
});
