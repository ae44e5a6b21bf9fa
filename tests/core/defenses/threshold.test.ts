import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binomialConsistent, binomialTails, calibrateThreshold, flagAbove, rate } from '../../../src/core/defenses/threshold';
import { mulberry32 } from '../../../src/core/random';

describe('calibrateThreshold (exact empirical quantile)', () => {
  it('on 1..100 with fpr 1% is the 99th value: exactly one score above it', () => {
    const scores = Array.from({ length: 100 }, (_, i) => 100 - i); // descending order on purpose
    const t = calibrateThreshold(scores, 0.01);
    expect(t.threshold).toBe(99);
    expect(t).toMatchObject({ n: 100, fpr: 0.01, allowed: 1, flagged: 1 });
    expect(flagAbove(scores, t.threshold).filter(Boolean)).toHaveLength(1);
  });

  it('floor(fpr·n): 5% of 30 allows 1 (not 1.5 → 2), 29% of 100 allows 29 despite 0.29·100 < 29 in floating point', () => {
    const s30 = Array.from({ length: 30 }, (_, i) => i);
    expect(calibrateThreshold(s30, 0.05)).toMatchObject({ allowed: 1, flagged: 1, threshold: 28 });
    expect(0.29 * 100).toBeLessThan(29);
    const s100 = Array.from({ length: 100 }, (_, i) => i);
    expect(calibrateThreshold(s100, 0.29)).toMatchObject({ allowed: 29, flagged: 29, threshold: 70 });
  });

  it('fpr 0 gives the maximum: nothing in the calibration set is flagged', () => {
    const t = calibrateThreshold([0.3, 0.9, 0.1], 0);
    expect(t.threshold).toBe(0.9);
    expect(t.flagged).toBe(0);
  });

  it('ties at the threshold flag fewer than allowed, never more', () => {
    const t = calibrateThreshold([1, 2, 5, 5, 5, 5, 5, 5, 5, 5], 0.3);
    expect(t.allowed).toBe(3);
    expect(t.threshold).toBe(5);
    expect(t.flagged).toBe(0);
  });

  it('property: at most floor(fpr·n) scores above; lowering it to the next smaller score would flag more than allowed', () => {
    fc.assert(fc.property(
      fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 300 }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      (scores, fpr) => {
        const t = calibrateThreshold(scores, fpr);
        const above = scores.filter((s) => s > t.threshold).length;
        const k = Math.floor(fpr * scores.length + 1e-9);
        expect(t.allowed).toBe(k);
        expect(above).toBe(t.flagged);
        expect(above).toBeLessThanOrEqual(k);
        expect(scores).toContain(t.threshold);
        // Minimal: at least k + 1 scores are ≥ the threshold.
        expect(scores.filter((s) => s >= t.threshold).length).toBeGreaterThanOrEqual(k + 1);
      },
    ), { seed: 42, numRuns: 300 });
  });

  it('on fresh samples of the same distribution the flagged fraction is close to fpr', () => {
    const next = mulberry32(3);
    const draw = (n: number) => Array.from({ length: n }, () => next());
    const t = calibrateThreshold(draw(20000), 0.05);
    const fresh = flagAbove(draw(20000), t.threshold);
    // Binomial sd at p = 0.05, n = 20000 is 0.0015; 5 sd of slack.
    expect(Math.abs(rate(fresh) - 0.05)).toBeLessThan(0.0075);
  });

  it.each([
    [[], 0.01],
    [[1, Number.NaN], 0.01],
    [[1, Number.POSITIVE_INFINITY], 0.01],
    [[1, 2], 1],
    [[1, 2], -0.1],
    [[1, 2], Number.NaN],
  ])('rejects bad input %j fpr %s with BAD_INPUT', (scores, fpr) => {
    expect(() => calibrateThreshold(scores, fpr)).toThrowError(expect.objectContaining({ code: 'BAD_INPUT' }));
  });

  it('rate of an empty list is 0', () => {
    expect(rate([])).toBe(0);
    expect(rate([true, false, false, true])).toBe(0.5);
  });
});

describe('binomialTails / binomialConsistent', () => {
  it('match a direct sum of C(n,k) p^k q^(n−k) on a small case', () => {
    const n = 12;
    const p = 0.3;
    const choose = (a: number, b: number): number => { let r = 1; for (let i = 1; i <= b; i++) r = (r * (a - b + i)) / i; return r; };
    const pmf = (k: number) => choose(n, k) * p ** k * (1 - p) ** (n - k);
    for (let k = 0; k <= n; k++) {
      let lo = 0;
      let up = 0;
      for (let i = 0; i <= n; i++) { if (i <= k) lo += pmf(i); if (i >= k) up += pmf(i); }
      const t = binomialTails(k, n, p);
      expect(t.lower).toBeCloseTo(lo, 10);
      expect(t.upper).toBeCloseTo(up, 10);
    }
  });

  it('accepts the expected count and rejects counts far in either tail', () => {
    expect(binomialConsistent(50, 5000, 0.01)).toBe(true);
    expect(binomialConsistent(120, 5000, 0.01)).toBe(false);
    expect(binomialConsistent(10, 5000, 0.01)).toBe(false);
    expect(binomialTails(0, 10, 0)).toEqual({ lower: 1, upper: 1 });
    expect(() => binomialTails(11, 10, 0.5)).toThrowError(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});
