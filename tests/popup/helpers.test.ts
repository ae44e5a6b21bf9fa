import { describe, expect, it } from 'vitest';
import { amplifyPerturbation, grayToRgba, isDrawable, maxAbs } from '../../src/popup/draw';
import { shownErrorOf, shownErrorOfState } from '../../src/popup/errors';
import {
  formatCount,
  formatDistance,
  formatEps,
  formatFactor,
  formatMs,
  formatPercent,
  roundEps,
  truncateMiddle,
} from '../../src/popup/format';

describe('format', () => {
  it('formats numbers', () => {
    expect(formatPercent(0.98345)).toBe('98.3%');
    expect(formatPercent(1)).toBe('100.0%');
    expect(formatPercent(0)).toBe('0.0%');
    expect(formatPercent(Number.NaN)).toBe('—');
    expect(formatDistance(0.1)).toBe('0.100');
    expect(formatDistance(2.34567)).toBe('2.346');
    expect(formatCount(215)).toBe('215');
    expect(formatEps(0.1)).toBe('0.10');
    expect(formatMs(3.21)).toBe('3.2 ms');
    expect(formatMs(123.6)).toBe('124 ms');
    expect(formatFactor(5)).toBe('×5');
    expect(formatFactor(6.25)).toBe('×6.3');
    expect(formatFactor(16.7)).toBe('×17');
    expect(roundEps(0.1 + 0.2)).toBe(0.3);
  });

  it('truncates in the middle', () => {
    expect(truncateMiddle('short', 10)).toBe('short');
    const t = truncateMiddle('x'.repeat(100) + 'END', 30);
    expect(t).toHaveLength(30);
    expect(t.endsWith('END')).toBe(true);
    expect(t).toContain('…');
  });
});

describe('draw', () => {
  it('maps [0,1] to opaque gray bytes, clamping and filling missing pixels', () => {
    const rgba = grayToRgba({ width: 2, height: 2, pixels: [0, 1, 0.5, 2] });
    expect([...rgba]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
    const short = grayToRgba({ width: 2, height: 1, pixels: [Number.NaN] });
    expect([...short]).toEqual([0, 0, 0, 255, 0, 0, 0, 255]);
  });

  it('amplifies a perturbation around mid-gray', () => {
    const { image, factor } = amplifyPerturbation({ width: 3, height: 1, pixels: [-0.1, 0, 0.05] });
    expect(factor).toBeCloseTo(5);
    expect(image.pixels[0]).toBeCloseTo(0);
    expect(image.pixels[1]).toBeCloseTo(0.5);
    expect(image.pixels[2]).toBeCloseTo(0.75);
    const none = amplifyPerturbation({ width: 1, height: 1, pixels: [0] });
    expect(none.factor).toBe(1);
    expect(none.image.pixels).toEqual([0.5]);
    expect(maxAbs({ width: 2, height: 1, pixels: [0.2, -0.3] })).toBeCloseTo(0.3);
  });

  it('refuses undrawable sizes', () => {
    expect(isDrawable({ width: 28, height: 28, pixels: [] })).toBe(true);
    expect(isDrawable({ width: 0, height: 28, pixels: [] })).toBe(false);
    expect(isDrawable({ width: 1.5, height: 28, pixels: [] })).toBe(false);
    expect(isDrawable({ width: 100000, height: 1, pixels: [] })).toBe(false);
  });
});

describe('errors', () => {
  it('turns thrown values into shown errors', () => {
    expect(shownErrorOf(Object.assign(new Error('m'), { code: 'TIMEOUT' }))).toEqual({ code: 'TIMEOUT', message: 'm' });
    expect(shownErrorOf(new Error(''))).toEqual({ code: 'INTERNAL', message: 'Unknown error' });
    expect(shownErrorOf(undefined)).toEqual({ code: 'INTERNAL', message: 'undefined' });
    expect(shownErrorOf({ code: 3, message: 'x' })).toEqual({ code: 'INTERNAL', message: 'x' });
    expect(shownErrorOfState(null).code).toBe('INTERNAL');
    expect(shownErrorOfState({ code: 'NO_IMAGE', message: 'none' })).toEqual({ code: 'NO_IMAGE', message: 'none' });
  });
});
