import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../../src/core/errors';
import { parsePopupMatrices, POPUP_MATRICES_VERSION, POPUP_SALIENCIES, toPopupMatrix } from '../../../src/core/metrics/popup-matrices';
import { JSMA_SALIENCIES } from '../../../src/core/attacks/jsma';

/** A valid 3-class file: 2 runs per off-diagonal pair. */
function valid(): Record<string, unknown> {
  const blank = (f: (s: number, t: number) => number): (number | null)[][] => Array.from({ length: 3 }, (_, s) => Array.from({ length: 3 }, (_, t) => (s === t ? null : f(s, t))));
  const m = {
    count: Array.from({ length: 3 }, (_, s) => Array.from({ length: 3 }, (_, t) => (s === t ? 0 : 2))),
    successRate: blank(() => 0.5),
    distortionSuccessful: blank((s, t) => 0.01 * (s + t)),
    hardness: blank(() => 0.02),
    adversarialDistance: blank(() => 0.9),
    robustness: 0.8,
  };
  return {
    version: POPUP_MATRICES_VERSION, model: 'm', classNames: ['a', 'b', 'c'], command: 'npm run probe -- reproduce', generatedAt: '2026-01-01T00:00:00.000Z',
    theta: 1, maxDistortion: 0.145, upsilons: [0.01, 0.145], sources: 3, runs: 12, distanceRuns: 6,
    saliency: { logits: m, probabilities: structuredClone(m) },
  };
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof ProbeError ? e.code : 'other';
  }
};

describe('popup-matrices.json format', () => {
  it('the saliency maps are the attack\'s', () => {
    expect([...POPUP_SALIENCIES]).toEqual([...JSMA_SALIENCIES]);
  });

  it('accepts a valid file and returns it typed', () => {
    const p = parsePopupMatrices(valid());
    expect(p.version).toBe(1);
    expect(p.saliency.logits.distortionSuccessful[1][2]).toBeCloseTo(0.03, 12);
    expect(p.saliency.probabilities.robustness).toBe(0.8);
  });

  it('refuses wrong versions, sizes, ranges, diagonals and counts with BAD_INPUT', () => {
    const broken: [string, (v: Record<string, unknown>) => void][] = [
      ['version', (v) => { v.version = 2; }],
      ['not an object', (v) => { for (const k of Object.keys(v)) delete v[k]; }],
      ['no command', (v) => { v.command = ''; }],
      ['Υ not increasing', (v) => { v.upsilons = [0.145, 0.01]; }],
      ['maxDistortion not the last Υ', (v) => { v.maxDistortion = 0.1; }],
      ['missing map', (v) => { delete (v.saliency as Record<string, unknown>).probabilities; }],
      ['row too short', (v) => { ((v.saliency as Record<string, Record<string, unknown[][]>>).logits.hardness)[0] = [null, 0.1]; }],
      ['rate above 1', (v) => { ((v.saliency as Record<string, Record<string, unknown[][]>>).logits.successRate)[0][1] = 1.5; }],
      ['NaN as a string', (v) => { ((v.saliency as Record<string, Record<string, unknown[][]>>).logits.hardness)[0][1] = 'NaN'; }],
      ['value on the diagonal', (v) => { ((v.saliency as Record<string, Record<string, unknown[][]>>).logits.adversarialDistance)[1][1] = 0.5; }],
      ['rate without runs', (v) => { ((v.saliency as Record<string, Record<string, unknown[][]>>).logits.count)[0][1] = 0; }],
      ['counts do not add up', (v) => { v.runs = 13; }],
      ['robustness out of range', (v) => { (v.saliency as Record<string, Record<string, unknown>>).logits.robustness = -0.1; }],
    ];
    for (const [name, mutate] of broken) {
      const v = valid();
      mutate(v);
      expect(codeOf(() => parsePopupMatrices(v)), name).toBe('BAD_INPUT');
    }
    expect(codeOf(() => parsePopupMatrices(null))).toBe('BAD_INPUT');
    expect(codeOf(() => parsePopupMatrices([1, 2]))).toBe('BAD_INPUT');
  });

  it('toPopupMatrix: non-finite entries become null (JSON has no NaN)', () => {
    expect(toPopupMatrix([[Number.NaN, 0.5], [Infinity, 0]])).toEqual([[null, 0.5], [null, 0]]);
  });
});
