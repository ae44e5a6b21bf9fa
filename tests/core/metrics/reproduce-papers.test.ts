import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPaperData, PAPER_NUMBERS_FILE } from '../../../src/cli/reproduce';
import {
  asFraction, checkSource, compareRates, formatPaperNumber, headingText, paperNumber, parsePaperData, sectionBody,
} from '../../../src/core/metrics/reproduce-papers';

const raw = (): Record<string, unknown> => JSON.parse(readFileSync(PAPER_NUMBERS_FILE, 'utf8')) as Record<string, unknown>;
const withNumber = (patch: Record<string, unknown>): unknown => {
  const r = raw();
  const numbers = r.numbers as Record<string, unknown>[];
  return { ...r, numbers: [{ ...numbers[0], ...patch }, ...numbers.slice(1)] };
};

describe('paper numbers (src/core/metrics/paper-numbers.json)', () => {
  const data = loadPaperData();

  it('holds the Goodfellow et al. numbers this slice compares with, as the paper writes them', () => {
    const expected: Record<string, string> = {
      'goodfellow.fgsm.softmax.error': '99.9%', 'goodfellow.fgsm.softmax.confidence': '79.3%',
      'goodfellow.fgsm.maxout.error': '89.4%', 'goodfellow.fgsm.maxout.confidence': '97.6%', 'goodfellow.fgsm.lr3v7.error': '99%',
      'goodfellow.advtrain.maxout.cleanError': '0.94%', 'goodfellow.advtrain.maxoutAdv.cleanError': '0.77%',
      'goodfellow.advtrain.maxout.advError': '89.4%', 'goodfellow.advtrain.maxout.advConfidence': '97.6%',
      'goodfellow.advtrain.maxoutAdv.advError': '17.9%', 'goodfellow.advtrain.maxoutAdv.advConfidence': '81.4%',
      'goodfellow.ensemble.error': '91%', 'goodfellow.ensemble.memberError': '87%', 'goodfellow.ensemble.members': '12',
    };
    for (const [id, text] of Object.entries(expected)) expect(formatPaperNumber(paperNumber(data, id)), id).toBe(text);
    expect(asFraction(paperNumber(data, 'goodfellow.fgsm.softmax.error'))).toBeCloseTo(0.999, 12);
    expect(asFraction(paperNumber(data, 'goodfellow.ensemble.members'))).toBe(12);
    expect(() => paperNumber(data, 'goodfellow.nope')).toThrow(/no entry/);
  });

  it('holds Szegedy et al. tables 1 and 2 as the paper writes them', () => {
    const expected: Record<string, string> = {
      'szegedy.t1.fc10_1e4.trainError': '6.7%', 'szegedy.t1.fc10_1e4.testError': '7.4%', 'szegedy.t1.fc10_1e4.distortion': '0.062',
      'szegedy.t1.fc10_1.testError': '20%', 'szegedy.t1.fc10_1.distortion': '0.14', 'szegedy.t1.fc100.trainError': '0%',
      'szegedy.t1.ae400.trainError': '0.57%', 'szegedy.t1.ae400.distortion': '0.086',
      'szegedy.t2.fc10_1e4.fc10_1e2': '11.7%', 'szegedy.t2.fc10_1e2.fc10_1e4': '87.1%', 'szegedy.t2.ae400.ae400': '100%',
      'szegedy.t2.fc200.fc100': '20.3%', 'szegedy.t2.noise01.fc10_1': '18.3%', 'szegedy.t2.noise03.ae400': '3.1%',
    };
    for (const [id, text] of Object.entries(expected)) expect(formatPaperNumber(paperNumber(data, id)), id).toBe(text);
    expect(data.numbers.filter((n) => n.paper === 'szegedy2014')).toHaveLength(6 * 3 + 8 * 6);
  });

  it('names for every entry a source section in heading form and a quote containing the value', () => {
    const all = [...data.papers, ...data.numbers, ...data.claims];
    expect(all.length).toBeGreaterThan(15);
    for (const e of all) {
      expect(e.source.section, e.id).toMatch(/^[^#*_\s](?:[^#*_]*[^#*_\s])?$/);
      expect(e.source.section, e.id).not.toMatch(/\s{2}/);
      expect(e.source.quote.length, e.id).toBeGreaterThan(10);
    }
    for (const n of data.numbers) expect(n.source.quote.replace(/\s+/g, ' '), n.id).toContain(String(n.value));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(data.papers.map((p) => p.id)).toEqual(['goodfellow2015', 'szegedy2014', 'papernot2016', 'kos2017', 'bradshaw2017']);
  });

  it('rejects malformed entries', () => {
    expect(() => parsePaperData(withNumber({ value: 98.9 }))).toThrow(/does not contain the value 98.9/);
    expect(() => parsePaperData(withNumber({ value: 120 }))).toThrow(/percentage/);
    expect(() => parsePaperData(withNumber({ unit: 'pct' }))).toThrow(/unit/);
    expect(() => parsePaperData(withNumber({ paper: 'nobody2020' }))).toThrow(/unknown paper/);
    expect(() => parsePaperData(withNumber({ source: { section: '# Linear Perturbation of Non-Linear Models', quote: '99.9% on shallow softmax' } }))).toThrow(/heading/);
    expect(() => parsePaperData(withNumber({ source: { section: 'Linear Perturbation of Non-Linear Models' } }))).toThrow(/quote/);
    expect(() => parsePaperData(withNumber({ id: 'goodfellow.fgsm.maxout.error' }))).toThrow(/duplicate/);
    expect(() => parsePaperData([])).toThrow(/object/);
  });

  // The shared papers are outside this repository: check the quotes against them where they are.
  const papersMd = [process.env.PAPERS_MD, resolve('../shared/papers.md'), '/work/shared/papers.md'].find((p): p is string => !!p && existsSync(p));
  it('every source names its section and quotes it; where papers.md is at hand, the section holds the quote', () => {
    const entries = [...data.papers, ...data.numbers, ...data.claims];
    for (const e of entries) expect(e.source.quote.trim().length, e.id).toBeGreaterThanOrEqual(8);
    if (!papersMd) {
      console.log('papers.md not found at ../shared/papers.md (set PAPERS_MD): checked the quotes\' form only');
      return;
    }
    const md = readFileSync(papersMd, 'utf8');
    for (const e of entries) expect(checkSource(md, e.source), e.id).toBeUndefined();
  });
});

describe('papers.md sections', () => {
  const md = ['# Intro', 'text', '# *Adversarial Training*', 'a', '### 3. Embedded heading', 'error went from 0.94%  to 0.77%', '## *But more Importantly...*', 'fell to 17.9%!', '# Next', 'x'].join('\n');

  it('strips heading marks and finds level-1/2 sections, level-3 headings inside them', () => {
    expect(headingText('# *Adversarial Training of Deep Networks*')).toBe('Adversarial Training of Deep Networks');
    expect(headingText('## *But more Importantly...*')).toBe('But more Importantly...');
    expect(sectionBody(md, 'Adversarial Training')).toContain('0.94%');
    expect(sectionBody(md, 'Adversarial Training')).not.toContain('17.9%');
    expect(sectionBody(md, 'But more Importantly...')).toBe('fell to 17.9%!');
    expect(sectionBody(md, '3. Embedded heading')).toBeUndefined();
    expect(sectionBody(md, 'Missing')).toBeUndefined();
  });

  it('checks a source: heading present, quote in its section (white space normalised)', () => {
    expect(checkSource(md, { section: 'Adversarial Training', quote: 'went from 0.94% to 0.77%' })).toBeUndefined();
    expect(checkSource(md, { section: 'Adversarial Training', quote: 'fell to 17.9%' })).toMatch(/does not contain/);
    expect(checkSource(md, { section: 'Nope', quote: 'x' })).toMatch(/no level-1\/2 heading/);
  });
});

describe('compareRates', () => {
  it('agrees within half a percentage point, or two standard errors when samples are small', () => {
    expect(compareRates(1.0, 0.999, 10000, 10000).agrees).toBe(true);
    expect(compareRates(0.998, 0.894, 10000, 10000)).toMatchObject({ agrees: false });
    expect(compareRates(0.998, 0.894, 10000, 10000).difference).toBeCloseTo(0.104, 12);
    expect(compareRates(0.0137, 0.0077, 10000, 10000).agrees).toBe(false);
    expect(compareRates(0.0118, 0.0094, 10000, 10000).agrees).toBe(true);
    // 13 items: a 10 pp gap in a mean confidence is within noise; at 10,000 it is not.
    expect(compareRates(0.715, 0.814, 13, 10000).agrees).toBe(true);
    expect(compareRates(0.715, 0.814, 10000, 10000).agrees).toBe(false);
    expect(compareRates(0.5, 0.5, 4, 10000).tolerance).toBeGreaterThan(compareRates(0.5, 0.5, 400, 10000).tolerance);
    expect(compareRates(Number.NaN, 0.8, 0, 10000).agrees).toBe(false);
  });
});
