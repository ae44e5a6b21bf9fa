import { describe, expect, it } from 'vitest';
import { ATTACK_SPECS, attackMeta, defaultParams } from '../../src/core/attacks/specs';
import { draftForAttack, draftFromChoice, hasSlider, parseDraft, parseValue, specOf } from '../../src/popup/attack-draft';
import { amplifyPerturbation, countChanged, grayToRgba, highlightChanges, isDrawable, maxAbs } from '../../src/popup/draw';
import { shownErrorOf, shownErrorOfState } from '../../src/popup/errors';
import {
  formatCount,
  formatDistance,
  formatEps,
  formatFactor,
  formatMs,
  formatNumber,
  formatPercent,
  distanceName,
  infoLabel,
  threatWord,
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

  it('formats trace and progress numbers', () => {
    expect(formatNumber(3)).toBe('3');
    expect(formatNumber(0.001)).toBe('0.001');
    expect(formatNumber(0.0001)).toBe('1.00e-4');
    expect(formatNumber(1.23456)).toBe('1.235');
    expect(formatNumber(12345.678)).toBe('12350');
    expect(formatNumber(1e7)).toBe('1.00e+7');
    expect(formatNumber(Number.NaN)).toBe('—');
    expect(formatNumber(null)).toBe('—');
    expect(infoLabel('meanConst')).toBe('c');
    expect(infoLabel('somethingNew')).toBe('somethingNew');
    expect(threatWord('source-target-misclassification')).toBe('source–target');
    expect(distanceName('linf')).toBe('L∞');
    expect(distanceName('l0')).toBe('L0');
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

  it('paints changed pixels over a dimmed image', () => {
    const img = { width: 3, height: 1, pixels: [1, 0.5, 0] };
    const change = { width: 3, height: 1, pixels: [0, 0.2, -0.3] };
    expect([...highlightChanges(img, change)]).toEqual([102, 102, 102, 255, 255, 64, 32, 255, 40, 150, 255, 255]);
    expect(countChanged(change)).toBe(2);
    expect(countChanged({ width: 1, height: 1, pixels: [1e-9] })).toBe(0);
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

describe('attack draft', () => {
  const fgsm = { attack: 'fgsm', params: { eps: 0.1, norm: '2' }, target: 4 } as const;

  it('starts from the shown choice, and from the defaults for another attack', () => {
    expect(draftFromChoice(fgsm)).toEqual({ attack: 'fgsm', values: { eps: '0.1', norm: '2' }, target: 4 });
    expect(draftForAttack('jsma', fgsm, 4)).toEqual({ attack: 'jsma', values: { theta: '+1', maxDistortion: '0.145', saliency: 'logits' }, target: 4 });
    expect(draftForAttack('fgsm', fgsm, null).values).toEqual({ eps: '0.1', norm: '2' });
    expect(draftForAttack('bim', fgsm, null).values.randomStart).toBe(false);
    // An attack this popup does not know reads as FGSM with its defaults.
    const unknown = { attack: 'future', params: {}, target: null };
    expect(draftFromChoice(unknown)).toEqual(draftForAttack('fgsm', unknown, null));
    expect(specOf('future').id).toBe('fgsm');
  });

  it('parses the controls into a typed choice, or says what is wrong', () => {
    const d = draftForAttack('cw-l2', fgsm, null);
    const cw = attackMeta('cw-l2');
    if (!cw) throw new Error('no CW spec');
    expect(parseDraft(d)).toEqual({ ok: true, choice: { attack: 'cw-l2', params: defaultParams(cw), target: null } });
    const bad = parseDraft({ ...d, values: { ...d.values, binarySteps: '2.5', confidence: 'x', learningRate: '0' } });
    expect(bad).toEqual({ ok: false, errors: { binarySteps: 'a whole number is needed', confidence: 'a number is needed', learningRate: '1e-5 to 1' } });
  });

  it('checks each kind of value', () => {
    const cw = attackMeta('cw-l2');
    const bim = attackMeta('bim');
    if (!cw || !bim) throw new Error('specs missing');
    const p = (spec: typeof cw, key: string) => {
      const found = spec.params.find((q) => q.key === key);
      if (!found) throw new Error(key);
      return found;
    };
    expect(parseValue(p(cw, 'initialConst'), ' 1e-3 ')).toEqual({ ok: true, value: 0.001 });
    expect(parseValue(p(cw, 'initialConst'), '2e6')).toEqual({ ok: false, error: '1e-6 to 1e+6' });
    expect(parseValue(p(cw, 'abortEarly'), false)).toEqual({ ok: true, value: false });
    expect(parseValue(p(bim, 'norm'), '2')).toEqual({ ok: true, value: '2' });
    expect(parseValue(p(bim, 'norm'), '1')).toEqual({ ok: false, error: 'one of inf, 2' });
  });

  it('gives sliders to short ranges only', () => {
    const slid = ATTACK_SPECS.flatMap((a) => a.params.filter(hasSlider).map((q) => `${a.id}.${q.key}`));
    expect(slid).toEqual([
      'fgsm.eps',
      'bim.eps',
      'jsma.maxDistortion',
      'cw-l2.confidence',
      'cw-l2.binarySteps',
      'lbfgs.searchSteps',
      'vae-classifier.eps',
      'vae-latent.eps',
      'vae-loss.eps',
    ]);
  });
});
