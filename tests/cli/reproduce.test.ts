import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crossing, FIGURES, KOS_FIGURES, loadPaperData, PAPERNOT_EXTRA_FIGURES, PAPERNOT_FIGURES, pct, planFor, REPORT_FILE, RESULTS_FILE, reproduceOptions, trainingFacts, type ReproduceResult,
} from '../../src/cli/reproduce';
import { parsePopupMatrices, POPUP_MATRICES_FILE } from '../../src/core/metrics/popup-matrices';
import { escapeXml, heatmap, imageGrid, lineChart, niceTicks } from '../../src/cli/svg';
import { formatPaperNumber } from '../../src/core/metrics/reproduce-papers';
import { BRADSHAW_FIGURES } from '../../src/cli/reproduce-bradshaw';
import type { ModelCard } from '../../src/cli/models';

/** Well-formedness, XML-ish: one root <svg>, every tag closed in order, no stray '<' or '&'. */
function checkSvg(svg: string): void {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    expect(between, `text before <${m[2]}>`).not.toMatch(/[<>]/);
    expect(between.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toContain('&');
    last = m.index + m[0].length;
    const [, close, name, , self] = m;
    if (close) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name);
    }
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

const count = (s: string, needle: string): number => s.split(needle).length - 1;

describe('svg writer', () => {
  it('lineChart: one path per series, markers, bands, escaped names, gaps at non-finite points', () => {
    const svg = lineChart({
      title: 'a < b & "c"', xLabel: 'ε', yLabel: 'error (%)',
      series: [
        { name: 'one', points: [[0, 1], [1, 2], [2, 3]] },
        { name: 'two <b>', points: [[0, 3], [1, Number.NaN], [2, 1]], dashed: true },
      ],
      markers: [{ label: 'paper: 89.4%', x: 1, y: 2.5 }],
      bands: [{ from: 0.5, to: 1.5, label: 'correct' }],
    });
    checkSvg(svg);
    expect(count(svg, 'class="series"')).toBe(2);
    expect(count(svg, 'class="marker"')).toBe(1);
    expect(count(svg, 'class="band"')).toBe(1);
    expect(svg).toContain('data-series="two &lt;b&gt;"');
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    const two = /data-series="two &lt;b&gt;" d="([^"]*)"/.exec(svg)![1];
    expect(count(two, 'M')).toBe(2);
    expect(two).not.toContain('L');
    expect(svg).toContain('stroke-dasharray');
  });

  it('imageGrid: one <image> per picture, captions and frames', () => {
    const href = 'data:image/png;base64,AAAA';
    const svg = imageGrid({ title: 'grid', cell: 30, rows: [{ title: 'row & 1', images: [{ href, caption: '3 → 7', frame: '#f00' }, { href }] }, { images: [{ href }] }] });
    checkSvg(svg);
    expect(count(svg, '<image ')).toBe(3);
    expect(count(svg, 'stroke="#f00"')).toBe(1);
    expect(svg).toContain('row &amp; 1');
    expect(svg).toContain('3 → 7');
  });

  it('heatmap: one cell per entry with its value, grey dashes for non-finite ones, a scale from the domain', () => {
    const values = [[Number.NaN, 0.5, 1], [0, Number.NaN, 0.25]];
    const svg = heatmap({ title: 'pairs <s, t>', values, rowLabels: ['a', 'b'], colLabels: ['x', 'y', 'z'], rowTitle: 'source', colTitle: 'target', domain: [0, 1], format: (v) => `${100 * v}%` });
    checkSvg(svg);
    expect(count(svg, 'class="hm-cell"')).toBe(6);
    expect(count(svg, 'data-value="NaN"')).toBe(2);
    expect(count(svg, 'fill="#e0e0e0"')).toBe(2);
    expect(svg).toContain('data-row="0" data-col="2" data-value="1"');
    // Domain ends: white at 0, the full colour at 1.
    expect(/data-value="0" [^>]*fill="#ffffff"/.test(svg)).toBe(true);
    expect(/data-value="1" [^>]*fill="#2b5c8a"/.test(svg)).toBe(true);
    expect(svg).toContain('>25%<');
    expect(svg).toContain('pairs &lt;s, t&gt;');
    expect(count(svg, '<text x=')).toBeGreaterThanOrEqual(6 + 5);
  });

  it('niceTicks and escapeXml', () => {
    expect(niceTicks(0, 0.3, 6)).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(niceTicks(-15, 15, 8)).toEqual([-15, -10, -5, 0, 5, 10, 15]);
    expect(niceTicks(0, 100, 6)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});

describe('training facts from the model cards', () => {
  const card = (id: string, extra: Record<string, unknown> = {}): ModelCard => ({ id, dataset: 'mnist', testN: 10000, optimizer: 'adam', epochs: 3, ...extra });
  const cards = (adv: Record<string, unknown>): Record<string, ModelCard> => ({
    'mnist-softmax': card('mnist-softmax'), 'mnist-maxout': card('mnist-maxout'), 'mnist-lr-3v7': card('mnist-lr-3v7'),
    'mnist-ensemble-5': card('mnist-ensemble-5', { members: [{}, {}], maxout: { units: 120, pieces: 4 } }),
    'mnist-maxout-adv': card('mnist-maxout-adv', {
      adversarialTraining: { alpha: 0.5, eps: 0.25 }, validation: { criterion: 'FGSM (eps 0.25) validation error' }, ...adv,
    }),
  });

  it('says how mnist-maxout-adv was made: plain fine-tuning, or widened and with shifted images', () => {
    const plain = trainingFacts(cards({ phases: [{ epochs: 50 }, { epochs: 8 }] })).adv;
    expect(plain).toBe('fine-tuned from mnist-maxout for 8 epochs with α = 0.5, ε = 0.25, early-stopped on FGSM (eps 0.25) validation error (models/mnist-maxout-adv/card.json)');
    const widened = trainingFacts(cards({
      maxout: { units: 400, pieces: 5 }, augmentation: { maxPixels: 1 },
      phases: [{ epochs: 50 }, { epochs: 8, widened: { from: 240, to: 400 } }, { epochs: 6 }],
    })).adv;
    expect(widened).toContain('fine-tuned from mnist-maxout (widened to 400 units per layer, then 8 clean epochs) for 6 epochs on training images shifted by up to 1 px with α = 0.5');
    expect(trainingFacts(cards({})).adv).toMatch(/^trained with α = 0.5/);
  });
});

describe('reproduce options and plan', () => {
  it('parses its flags and refuses unknown ones', () => {
    const f = (o: Record<string, string | true>) => reproduceOptions(new Map(Object.entries(o)));
    expect(f({})).toEqual({ quick: false, out: 'reproduction', n: undefined, backend: 'wasm' });
    expect(f({ quick: true, out: 'x', n: '50' })).toMatchObject({ quick: true, out: 'x', n: 50 });
    expect(() => f({ quik: true })).toThrow(/unknown flag --quik/);
    expect(() => f({ n: '0' })).toThrow(/--n/);
    expect(() => f({ out: true })).toThrow(/--out/);
    expect(() => f({ backend: 'tpu' })).toThrow(/--backend/);
  });

  it('full run: every test image; quick: 500 and a coarser grid that still holds ε = 0.25', () => {
    const full = planFor({ quick: false }, 10000, 2038);
    expect(full).toMatchObject({ n: 10000, nLr: 2038, bimN: 1000, trainN: 60000, szegedyN: 100, papernotN: 150, papernotSets: ['training', 'validation', 'test'], kosK: 10 });
    expect(full.curveEps).toHaveLength(13);
    const quick = planFor({ quick: true }, 10000, 2038);
    expect(quick).toMatchObject({ n: 500, nLr: 500, bimN: 100, trainN: 500, szegedyN: 20, papernotN: 10, papernotSets: ['test'], kosK: 2 });
    expect(quick.curveEps).toContain(0.25);
    expect(planFor({ quick: true, n: 50 }, 10000, 2038)).toMatchObject({ n: 50, nLr: 50, bimN: 50, trainN: 50, szegedyN: 20 });
    expect(planFor({ quick: true, n: 5 }, 10000, 2038)).toMatchObject({ trainN: 5, szegedyN: 5 });
  });

  it('crossing interpolates where a rising curve reaches a level', () => {
    const pts = [{ eps: 0, adversarialError: 0 }, { eps: 0.1, adversarialError: 0.5 }, { eps: 0.2, adversarialError: 1 }];
    expect(crossing(pts, 0.75)).toBeCloseTo(0.15, 12);
    expect(crossing(pts, 1.1)).toBeUndefined();
  });
});

describe('probe reproduce --quick (a real run, small n)', () => {
  let dir = '';
  let run: { code: number | null; stdout: string; stderr: string };
  let result: ReproduceResult;
  let report = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reproduce-'));
    const r = spawnSync('npx', ['tsx', 'src/cli/probe.ts', 'reproduce', '--quick', '--n', '200', '--out', dir, '--json'], { encoding: 'utf8', timeout: 170_000 });
    run = { code: r.status, stdout: r.stdout, stderr: r.stderr };
    if (run.code === 0) {
      result = JSON.parse(readFileSync(join(dir, RESULTS_FILE), 'utf8')) as ReproduceResult;
      report = readFileSync(join(dir, REPORT_FILE), 'utf8');
    }
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const row = (model: string, quantity: string) => {
    const r = result.rows.find((x) => x.model === model && x.quantity === quantity);
    expect(r, `${model} / ${quantity}`).toBeDefined();
    return r!;
  };

  it('exits 0 and prints a one-line JSON summary naming the files', () => {
    expect(run.code, run.stderr).toBe(0);
    const o = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(o).toMatchObject({ out: dir, mode: 'quick' });
    expect(o.files).toEqual(expect.arrayContaining([
      REPORT_FILE, RESULTS_FILE, POPUP_MATRICES_FILE, ...Object.values(FIGURES), ...Object.values(PAPERNOT_FIGURES).flatMap((f) => Object.values(f)),
      ...Object.values(PAPERNOT_EXTRA_FIGURES), ...Object.values(KOS_FIGURES.asTarget), KOS_FIGURES.examples,
    ]));
    expect(result.plan.n).toBe(200);
  });

  it('reproduces the qualitative claims of Goodfellow et al.', () => {
    const soft = row('mnist-softmax', 'FGSM error');
    const maxout = row('mnist-maxout', 'FGSM error');
    const adv = row('mnist-maxout-adv', 'FGSM error');
    expect(soft.measured).toBeGreaterThanOrEqual(0.95);
    expect(soft.count).toBe(200);
    expect(adv.measured).toBeLessThan(maxout.measured);
    expect(row('mnist-lr-3v7', 'FGSM error (3s and 7s)').measured).toBeGreaterThanOrEqual(0.9);
    expect(row('mnist-ensemble-5', 'FGSM error, crafted on the ensemble').measured).toBeGreaterThan(0.5);
    // FGSM error grows with ε from the clean error at ε = 0 (softmax, maxout).
    for (const id of ['mnist-softmax', 'mnist-maxout']) {
      const c = result.curves[id];
      expect(c[0].eps).toBe(0);
      expect(c[0].adversarialError).toBeCloseTo(c[0].cleanError, 12);
      expect(c[c.length - 1].adversarialError).toBeGreaterThan(c[0].adversarialError + 0.5);
    }
    const lrClaim = result.claims.find((c) => c.id === 'goodfellow.lr.signIsOptimal')!;
    expect(lrClaim.verdict).toBe('reproduced');
    expect(result.lr.signAgreement).toBe(1);
  });

  it('sets every published number of the data file beside a measured one, with the difference', () => {
    const data = loadPaperData();
    const percents = data.numbers.filter((n) => n.paper === 'goodfellow2015' && n.unit === '%');
    expect(percents.length).toBe(13);
    const lines = report.split('\n');
    for (const n of percents) {
      const r = result.rows.find((x) => x.paper?.id === n.id);
      expect(r, n.id).toBeDefined();
      const line = lines.find((l) => l.includes(`| ${formatPaperNumber(n)} |`) && l.includes(`| ${pct(r!.measured)} (n = `) && l.includes(`§ ${n.source.section}`));
      expect(line, `${n.id}: ${formatPaperNumber(n)} beside ${pct(r!.measured)}`).toBeDefined();
      expect(line).toMatch(/\| [+−]\d+\.\d+ pp \|/);
      expect(line).toMatch(/agrees \(within|differs: \S/);
    }
    // The ensemble size is a fact, set beside ours in the reason line.
    expect(report).toContain(`the paper's had ${formatPaperNumber(data.numbers.find((n) => n.id === 'goodfellow.ensemble.members')!)}`);
  });

  it('reproduces the qualitative claims of Szegedy et al. tables 1 and 2', () => {
    const z = result.szegedy;
    const ids = ['mnist-fc10-1e-4', 'mnist-fc10-1e-2', 'mnist-fc10-1', 'mnist-fc100-100-10', 'mnist-fc200-200-10', 'mnist-ae400-10'];
    expect(z.models.map((m) => m.id)).toEqual(ids);
    expect(result.plan).toMatchObject({ szegedyN: 20, trainN: 200 });
    const by = Object.fromEntries(z.models.map((m) => [m.id, m]));
    for (const m of z.models) {
      expect(m).toMatchObject({ attacked: 20, trainN: 200, testN: 200 });
      // L-BFGS reaches (almost) every random target on these small nets.
      expect(m.succeeded, m.id).toBeGreaterThanOrEqual(18);
      expect(m.meanDistortion, m.id).toBeGreaterThan(0.01);
      expect(m.meanDistortion, m.id).toBeLessThan(0.3);
    }
    // Weight decay: the heavily decayed softmax needs larger distortions (and makes more errors) than the lightly decayed one.
    expect(by['mnist-fc10-1'].meanDistortion).toBeGreaterThan(by['mnist-fc10-1e-4'].meanDistortion);
    expect(by['mnist-fc10-1e-2'].meanDistortion).toBeGreaterThan(by['mnist-fc10-1e-4'].meanDistortion);
    expect(by['mnist-fc10-1'].testError).toBeGreaterThan(by['mnist-fc10-1e-4'].testError);
    // The hidden-layer nets fit the training set better than any softmax.
    for (const id of ['mnist-fc100-100-10', 'mnist-fc200-200-10', 'mnist-ae400-10']) expect(by[id].trainError, id).toBeLessThan(by['mnist-fc10-1e-4'].trainError);
    // Transfer: a 6×6 matrix of rates, 100% on the diagonal, and off it above the clean error on average.
    expect(z.transfer).toHaveLength(6);
    const off: number[] = [];
    z.transfer.forEach((row, s) => {
      expect(row).toHaveLength(6);
      row.forEach((v, t) => {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        if (s === t) expect(v).toBe(1);
        else off.push(v);
      });
    });
    const avg = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(avg(off)).toBeGreaterThan(avg(z.models.map((m) => m.testError)) + 0.05);
    // Noise: stddev 0.3 distorts more and causes more error than 0.1; every rate in [0, 1].
    expect(z.noise.map((n) => n.stddev)).toEqual([0.1, 0.3]);
    const [n1, n3] = z.noise;
    for (const n of z.noise) for (const v of n.error) expect(v >= 0 && v <= 1).toBe(true);
    expect(n3.meanDistortion).toBeGreaterThan(n1.meanDistortion);
    expect(n1.meanDistortion).toBeGreaterThan(0.05);
    expect(n1.meanDistortion).toBeLessThanOrEqual(0.1);
    expect(avg(n3.error)).toBeGreaterThan(avg(n1.error));
    expect(result.claims.find((c) => c.id === 'szegedy.t2.crossModel')!.verdict).not.toBe('not reproduced');
  });

  it('sets every Szegedy et al. number beside a measured one, with the difference', () => {
    const data = loadPaperData();
    const numbers = data.numbers.filter((n) => n.paper === 'szegedy2014');
    expect(numbers.length).toBe(6 * 3 + 8 * 6);
    const lines = report.split('\n');
    for (const n of numbers) {
      const r = result.rows.find((x) => x.paper?.id === n.id);
      expect(r, n.id).toBeDefined();
      const shown = r!.unit === '%' ? pct(r!.measured) : r!.measured.toFixed(3);
      const line = lines.find((l) => l.includes(`| ${formatPaperNumber(n)} |`) && l.includes(`| ${shown} (n = `) && l.includes(`§ ${n.source.section}`));
      expect(line, `${n.id}: ${formatPaperNumber(n)} beside ${shown}`).toBeDefined();
      expect(line).toMatch(r!.unit === '%' ? /\| [+−]\d+\.\d+ pp \|/ : /\| [+−]\d\.\d{3} \|/);
      expect(line).toMatch(/agrees \(within|differs: \S/);
    }
    const i = report.indexOf('## Szegedy et al. 2014');
    expect(i).toBeGreaterThan(0);
    const section = report.slice(i, report.indexOf('\n## ', i + 3));
    expect(section).not.toContain('Not yet reproduced');
    expect(section).toContain('√(Σᵢ(x′ᵢ − xᵢ)²/n)');
    expect(section).toContain('| Gaussian noise, σ = 0.3 |');
  });

  it('states runtime and machine, and lists the other papers as not yet reproduced', () => {
    expect(report).toMatch(/\*\*Runtime\*\*: \d+\.\d s/);
    expect(report).toContain(`Node ${process.version}`);
    expect(report).toMatch(/backend wasm/);
    expect(report).toMatch(/\*\*Machine\*\*: \S+ .* × /);
    // Every paper of the data file now has its section (none is left as a placeholder).
    expect(report).not.toMatch(/^Not yet reproduced \(source/m);
    for (const f of Object.values(FIGURES)) expect(report).toContain(`](${f})`);
  });

  it('reproduces Papernot et al.\'s JSMA table on the quick sources, both saliency maps', () => {
    const z = result.papernot;
    expect(z).toMatchObject({ model: 'mnist-lenet', theta: 1, maxDistortion: 0.145 });
    expect(z.variants.map((v) => v.saliency)).toEqual(['logits', 'probabilities']);
    const [zl, zf] = z.variants;
    for (const v of z.variants) {
      expect(v.sets.map((s) => s.set)).toEqual(['test']);
      const s = v.sets[0];
      expect(s).toMatchObject({ split: 'test', start: 0, sources: 10 });
      expect(s.correct).toBeGreaterThanOrEqual(9);
      expect(s.summary.runs).toBe(9 * s.correct);
      // JSMA changes at most 2·⌊784·Υ/2⌋ pixels; a success stops early, so on average well below Υ.
      expect(s.summary.maxDistortionSuccessful).toBeLessThanOrEqual(0.145 + 1e-9);
      expect(s.summary.distortionAll).toBeLessThanOrEqual(0.145 + 1e-9);
      expect(s.summary.distortionSuccessful).toBeGreaterThan(0);
      expect(s.summary.distortionSuccessful).toBeLessThanOrEqual(s.summary.distortionAll + 1e-12);
      // Per-pair matrices: 10×10, no runs on the diagonal, counts adding up to the runs.
      expect(v.pairs.count).toHaveLength(10);
      expect(v.pairs.count.flat().reduce((a, b) => a + b, 0)).toBe(s.summary.runs);
      for (let c = 0; c < 10; c++) expect(v.pairs.count[c][c]).toBe(0);
    }
    // JSMA-F: (almost) every target on our LeNet, at least as often as the paper's logits map, and with fewer pixels.
    expect(zf.sets[0].summary.successRate).toBeGreaterThanOrEqual(0.9);
    expect(zf.sets[0].summary.successRate).toBeGreaterThanOrEqual(zl.sets[0].summary.successRate);
    expect(zl.sets[0].summary.successRate).toBeGreaterThan(0.5);
    expect(zf.sets[0].summary.distortionSuccessful).toBeLessThan(zl.sets[0].summary.distortionSuccessful);
    // Every paper number of the test row beside a measured one; the logits rows say why they differ.
    const data = loadPaperData();
    const lines = report.split('\n');
    for (const what of ['success', 'distortionAll', 'distortionSuccessful']) {
      const n = data.numbers.find((x) => x.id === `papernot.table.test.${what}`)!;
      const rs = result.rows.filter((x) => x.paper?.id === n.id);
      expect(rs, n.id).toHaveLength(2);
      for (const r of rs) {
        const line = lines.find((l) => l.includes(`| ${formatPaperNumber(n)} |`) && l.includes(`| ${pct(r.measured)} (n = `) && l.includes(`§ ${n.source.section}`));
        expect(line, `${n.id}: ${formatPaperNumber(n)} beside ${pct(r.measured)}`).toBeDefined();
        expect(line).toMatch(/agrees \(within|differs: \S/);
      }
    }
    const i = report.indexOf('## Papernot, McDaniel');
    expect(i).toBeGreaterThan(0);
    const section = report.slice(i, report.indexOf('\n## ', i + 3));
    expect(section).toContain('### Hardness matrix (§ Hardness Matrix)');
    expect(section).toContain('### Adversarial distance and robustness (§ Adversarial Distance)');
    expect(section).toContain('### Samples crafted from an empty input (§ Results for Empty Input)');
    for (const f of [...Object.values(PAPERNOT_FIGURES).flatMap((x) => Object.values(x)), ...Object.values(PAPERNOT_EXTRA_FIGURES)]) expect(section).toContain(`](${f})`);
    expect(result.claims.find((c) => c.id === 'papernot.pairs.uneven')).toBeDefined();
  });

  it('estimates Papernot et al.\'s hardness matrix from one sweep through the Υ grid, ending at the table\'s Υ', () => {
    const z = result.papernot;
    // The paper's budgets of 2 … 100 pixels, then Υ = 14.5% (56 pairs).
    expect(z.budgets).toEqual([1, 5, 10, 20, 30, 40, 50, 56]);
    expect(z.upsilons[z.upsilons.length - 1]).toBe(z.maxDistortion);
    const section = report.slice(report.indexOf('### Hardness matrix'), report.indexOf('### Adversarial distance and robustness'));
    for (const v of z.variants) {
      expect(v.stages.map((s) => s.budget)).toEqual(z.budgets);
      // The last stage is the table's run; success and distortion only grow along the grid, within each Υ.
      expect(v.stages[v.stages.length - 1].summary).toEqual(v.total);
      v.stages.forEach((s, k) => {
        expect(s.summary.runs).toBe(v.total.runs);
        expect(s.summary.distortionAll).toBeLessThanOrEqual((2 * s.budget) / 784 + 1e-9);
        if (k > 0) {
          expect(s.summary.successes).toBeGreaterThanOrEqual(v.stages[k - 1].summary.successes);
          expect(s.summary.distortionAll).toBeGreaterThanOrEqual(v.stages[k - 1].summary.distortionAll - 1e-12);
        }
        expect(section).toContain(`| ${pct(s.upsilon)} | ${2 * s.budget} | `);
      });
      // One pixel pair is not enough for any target; 14.5% reaches most.
      expect(v.stages[0].summary.successes).toBeLessThanOrEqual(v.total.runs * 0.05);
      expect(v.total.successRate).toBeGreaterThan(0.5);
      // H: 10×10, blank (null in JSON) on the diagonal, in [0, max τ·max ε] elsewhere, and the trapezoid of the pair's own curve.
      expect(v.hardness).toHaveLength(10);
      for (let s = 0; s < 10; s++) {
        expect(v.hardness[s][s]).toBeNull();
        for (let t = 0; t < 10; t++) {
          const h = v.hardness[s][t];
          if (s === t || h === null) continue;
          expect(h).toBeGreaterThanOrEqual(0);
          expect(h).toBeLessThanOrEqual(z.maxDistortion);
          const pts = z.upsilons.map((_, k) => ({ tau: v.stageSuccessRate[k][s][t], eps: v.stageDistortion[k][s][t] })).filter((p) => p.tau !== null && p.eps !== null);
          let area = 0;
          for (let k = 0; k + 1 < pts.length; k++) area += (pts[k + 1].tau - pts[k].tau) * (pts[k + 1].eps + pts[k].eps) / 2;
          expect(h).toBeCloseTo(area, 12);
        }
      }
      expect(v.hardness.flat().filter((h) => h !== null && h > 0).length).toBeGreaterThan(0);
    }
  });

  it('measures the adversarial distance on the same sources, and crafts a sample of every class from an empty input', () => {
    const z = result.papernot;
    expect(z.distanceSources).toBe(z.variants[0].sets.reduce((a, s) => a + s.correct, 0));
    for (const v of z.variants) {
      const d = v.distance;
      expect(d.runs).toBe(9 * z.distanceSources);
      expect(d.count.flat().reduce((a, b) => a + b, 0)).toBe(d.runs);
      const means = d.mean.flatMap((row, s) => row.filter((_, t) => t !== s)).filter((x): x is number => x !== null);
      for (const a of means) {
        expect(a).toBeGreaterThan(0);
        expect(a).toBeLessThanOrEqual(1);
      }
      for (let c = 0; c < 10; c++) expect(d.mean[c][c]).toBeNull();
      // R(F) is the smallest A, so at most every per-pair mean; it is attained by a measured (X, t).
      expect(d.robustness).toBeLessThanOrEqual(Math.min(...means) + 1e-12);
      expect(d.robustnessAt!.distance).toBe(d.robustness);
      expect(d.robustnessAt!.source).not.toBe(d.robustnessAt!.target);
    }
    const section = report.slice(report.indexOf('### Adversarial distance and robustness'));
    expect(section).toContain(`| ${pct(z.variants[0].distance.robustness)} | image ${z.variants[0].distance.robustnessAt!.index} `);
    // The empty input: 10 samples per map, only pixels turned on, at most 2·⌊784·Υ/2⌋ of them, their distortion = pixels / 784.
    expect(z.emptyInput.blankClass).toBeGreaterThanOrEqual(0);
    for (const v of z.emptyInput.variants) {
      expect(v.samples.map((s) => s.target)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const s of v.samples) {
        expect(s.pixels.length).toBeLessThanOrEqual(2 * z.budgets[z.budgets.length - 1]);
        expect(s.distortion).toBeCloseTo(s.pixels.length / 784, 12);
        if (s.target === z.emptyInput.blankClass) expect(s.pixels).toEqual([]);
      }
      // JSMA-F reaches most classes from nothing.
      if (v.saliency === 'probabilities') expect(v.samples.filter((s) => s.predicted === s.target).length).toBeGreaterThanOrEqual(8);
    }
  });

  it('writes popup-matrices.json: valid, versioned, and the same matrices as the results', () => {
    const raw = JSON.parse(readFileSync(join(dir, POPUP_MATRICES_FILE), 'utf8')) as unknown;
    const p = parsePopupMatrices(raw);
    const z = result.papernot;
    expect(p).toMatchObject({ version: 1, model: 'mnist-lenet', command: result.command, generatedAt: result.generatedAt, theta: 1, maxDistortion: z.maxDistortion });
    expect(p.upsilons).toEqual(z.upsilons);
    expect(p.classNames).toHaveLength(10);
    expect(p.runs).toBe(z.variants[0].total.runs);
    expect(p.sources).toBe(z.distanceSources);
    expect(p.distanceRuns).toBe(z.variants[0].distance.runs);
    for (const v of z.variants) {
      const m = p.saliency[v.saliency];
      expect(m.count).toEqual(v.pairs.count);
      expect(m.successRate).toEqual(v.pairs.successRate);
      expect(m.distortionSuccessful).toEqual(v.pairs.distortionSuccessful);
      expect(m.hardness).toEqual(v.hardness);
      expect(m.adversarialDistance).toEqual(v.distance.mean);
      expect(m.robustness).toBe(v.distance.robustness);
    }
    // A broken file is refused with a stable code.
    expect(() => parsePopupMatrices({ ...(raw as object), version: 2 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });

  it('writes well-formed SVG figures with the expected series', () => {
    const svg = (f: string): string => readFileSync(join(dir, f), 'utf8');
    const curve = svg(FIGURES.errorVsEps);
    checkSvg(curve);
    expect(count(curve, 'class="series"')).toBe(3);
    expect(count(curve, 'class="marker"')).toBe(3);
    const fig4 = svg(FIGURES.fig4);
    checkSvg(fig4);
    expect(count(fig4, 'class="series"')).toBe(10);
    expect(count(fig4, 'class="band"')).toBeGreaterThanOrEqual(1);
    expect(fig4).toContain('data-series="class 4 (correct)"');
    const lr = svg(FIGURES.lrWeights);
    checkSvg(lr);
    expect(count(lr, '<image ')).toBe(22);
    expect(count(lr, 'href="data:image/png;base64,')).toBe(22);
    for (const v of result.papernot.variants) {
      for (const [f, m] of [[PAPERNOT_FIGURES[v.saliency].success, v.pairs.successRate], [PAPERNOT_FIGURES[v.saliency].distortion, v.pairs.distortionSuccessful]] as const) {
        const h = svg(f);
        checkSvg(h);
        expect(count(h, 'class="hm-cell"'), f).toBe(100);
        // The diagonal (no runs) is blank; a drawn value is the matrix entry.
        for (let c = 0; c < 10; c++) expect(h).toContain(`data-row="${c}" data-col="${c}" data-value="NaN"`);
        expect(h).toContain(`data-row="0" data-col="1" data-value="${Number.isFinite(m[0][1]) ? String(m[0][1]) : 'NaN'}"`);
      }
      for (const [f, m] of [[PAPERNOT_FIGURES[v.saliency].hardness, v.hardness], [PAPERNOT_FIGURES[v.saliency].distance, v.distance.mean]] as const) {
        const h = svg(f);
        checkSvg(h);
        expect(count(h, 'class="hm-cell"'), f).toBe(100);
        for (let c = 0; c < 10; c++) expect(h).toContain(`data-row="${c}" data-col="${c}" data-value="NaN"`);
        // From JSON: null where the matrix had NaN.
        expect(h).toContain(`data-row="0" data-col="1" data-value="${m[0][1] === null ? 'NaN' : String(m[0][1])}"`);
      }
    }
    const curves = svg(PAPERNOT_EXTRA_FIGURES.curves);
    checkSvg(curves);
    expect(count(curves, 'class="series"')).toBe(4);
    const empty = svg(PAPERNOT_EXTRA_FIGURES.emptyInput);
    checkSvg(empty);
    expect(count(empty, '<image ')).toBe(20);
  });
  it('reproduces Kos et al.\'s classifier and latent attacks on the VAE, every quick source towards its 9 other classes', () => {
    const z = result.kos;
    expect(z.k).toBe(2);
    expect(z.sources).toHaveLength(20);
    expect(z.attacks.map((a) => a.id)).toEqual(['vae-classifier', 'vae-latent']);
    for (const a of z.attacks) {
      expect(a.runs, a.id).toBe(180);
      // Means are over pairs: every off-diagonal pair has 2 runs, the diagonal none.
      for (let s = 0; s < 10; s++) for (let t = 0; t < 10; t++) {
        expect(a.counts[s][t], `${a.id} ${s}→${t}`).toBe(s === t ? 0 : 2);
        for (const m of [a.asTarget, a.asIgnoreTarget]) {
          expect(m[s][t]).toBeGreaterThanOrEqual(0);
          expect(m[s][t]).toBeLessThanOrEqual(1);
        }
        // ŷ = target ≠ source, so a target hit is also a miss of the source class.
        expect(a.asIgnoreTarget[s][t]).toBeGreaterThanOrEqual(a.asTarget[s][t]);
      }
      expect(a.meanAsIgnoreTarget, a.id).toBeGreaterThanOrEqual(a.meanAsTarget);
      expect(a.meanL2, a.id).toBeGreaterThan(0);
    }
    const latent = z.attacks.find((a) => a.id === 'vae-latent')!;
    expect(latent.meanAsTarget).toBeGreaterThanOrEqual(0.5);
    const i = report.indexOf('## Kos, Fischer & Song 2017');
    expect(i).toBeGreaterThan(0);
    const section = report.slice(i, report.indexOf('\n## ', i + 3));
    expect(section).not.toMatch(/^Not yet reproduced \(source/m);
    expect(section).toContain(`| \`vae-latent\` | 180 | ${pct(latent.meanAsTarget)} | ${pct(latent.meanAsIgnoreTarget)} |`);
    expect(count(section, 'the summary gives no number')).toBe(4);
    for (const f of [...Object.values(KOS_FIGURES.asTarget), KOS_FIGURES.examples]) expect(section).toContain(`](${f})`);
    for (const a of z.attacks) {
      const h = readFileSync(join(dir, KOS_FIGURES.asTarget[a.id]), 'utf8');
      checkSvg(h);
      expect(count(h, 'class="hm-cell"')).toBe(100);
      for (let c = 0; c < 10; c++) expect(h).toContain(`data-row="${c}" data-col="${c}" data-value="NaN"`);
      expect(h).toContain(`data-row="0" data-col="1" data-value="${a.asTarget[0][1]}"`);
    }
    const g = readFileSync(join(dir, KOS_FIGURES.examples), 'utf8');
    checkSvg(g);
    // 3 sources × (original, target example, 2 attacks × (x*, reconstruction)).
    expect(count(g, '<image ')).toBe(18);
    expect(count(g, 'href="data:image/png;base64,')).toBe(18);
  });
  it('reproduces Bradshaw et al. on the GPDNN and its NN twin: accuracy and LL, FGSM vs ε, CW-L2, transfer, shifted data', () => {
    const z = result.bradshaw;
    const which = ['nn', 'gpdnn'] as const;
    expect(z.models).toEqual({ nn: 'mnist-gpdnn-nn', gpdnn: 'mnist-gpdnn' });
    expect(z.plan).toMatchObject({ n: 200, fgsmN: 200, cwN: 50, shiftN: 200 });
    for (const w of which) {
      expect(z.clean[w].n).toBe(200);
      expect(z.clean[w].accuracy, w).toBeGreaterThan(0.95);
      expect(z.clean[w].logLikelihood, w).toBeLessThan(0);
      expect(z.clean[w].logLikelihood, w).toBeGreaterThan(-0.2);
      // FGSM on the same 200 images: ε = 0 is the clean error; the error rises and the LL falls with ε.
      const c = z.fgsm[w];
      expect(c.map((p) => p.eps)).toEqual(result.plan.curveEps);
      expect(c[0].error).toBeCloseTo(1 - z.clean[w].accuracy, 12);
      expect(c[c.length - 1].error, w).toBeGreaterThan(c[0].error + 0.5);
      expect(c[c.length - 1].logLikelihood, w).toBeLessThan(c[0].logLikelihood - 1);
      // CW-L2 attacks only the correctly classified images and (almost) always succeeds on both models here.
      const s = z.cw[w];
      expect(s.images).toBe(50);
      expect(s.attacked).toBeGreaterThanOrEqual(48);
      expect(s.failed + s.succeeded).toBe(s.attacked);
      expect(s.meanL2, w).toBeGreaterThan(0.3);
      expect(s.meanL2, w).toBeLessThan(5);
    }
    // The paper's claim, measured: the successful attacks on the GPDNN need more L2 than on its NN twin (ours: by a margin beyond 2 standard errors).
    const e = z.cw.extra;
    expect(e.count).toBeGreaterThanOrEqual(45);
    expect(e.meanExtra).toBeCloseTo(e.meanB - e.meanA, 9);
    expect(e.meanExtra).toBeGreaterThan((2 * e.sdExtra) / Math.sqrt(e.count));
    const robust = result.claims.find((c) => c.id === 'bradshaw.cw.moreRobust')!;
    // Needing more perturbation is half of the claim; the other half (more failed attacks) decides between the two verdicts.
    expect(['reproduced', 'partly']).toContain(robust.verdict);
    if (z.cw.gpdnn.failed / z.cw.gpdnn.attacked <= z.cw.nn.failed / z.cw.nn.attacked) expect(robust.verdict).toBe('partly');
    // The paper's 381 failures of 1000 beside ours, with a reason when they differ.
    const failRow = result.rows.find((r) => r.paper?.id === 'bradshaw.cw.mnist.failed')!;
    expect(failRow.measured).toBeCloseTo(z.cw.gpdnn.failed / z.cw.gpdnn.attacked, 12);
    if (!failRow.comparison!.agrees) expect(failRow.note).toMatch(/hypothesis: /);
    // Transfer: each model errs on its own successful adversarials; every cell is a rate / a log-likelihood.
    expect(z.transfer.map((t) => t.craftedOn)).toEqual(['nn', 'gpdnn']);
    for (const t of z.transfer) {
      expect(t.count).toBe(z.cw[t.craftedOn].succeeded);
      expect(1 - t[t.craftedOn].accuracy, t.craftedOn).toBeGreaterThanOrEqual(t.craftedOn === 'nn' ? 1 : 0.9);
      for (const w of which) expect(t[w].logLikelihood).toBeLessThan(0);
    }
    // Shifted data: the shifts are real (rotation costs accuracy), Fashion-MNIST has no digit labels.
    expect(z.shifted.map((s) => s.id)).toEqual(['mnist', 'rotated', 'noisy', 'fonts', 'fashion']);
    const by = Object.fromEntries(z.shifted.map((s) => [s.id, s]));
    expect(by.rotated.n).toBe(200);
    expect(by.fonts.n).toBeGreaterThanOrEqual(100);
    for (const w of which) expect(by.rotated[w].accuracy, w).toBeLessThan(by.mnist[w].accuracy - 0.1);
    expect(by.fashion.labelled).toBe(false);
    expect(by.fashion.nn.accuracy).toBeNull(); // NaN in JSON
    expect(z.fonts.families.length).toBeGreaterThanOrEqual(3);
    for (const s of z.shifted) expect(s.gpdnnVariance).toBeGreaterThan(0);
    // The paper's claim (GPDNN LL higher under shift), judged on what we measure; where it fails, the report gives the reason.
    const labelled = z.shifted.filter((s) => s.id !== 'mnist' && s.labelled);
    const higher = labelled.filter((s) => s.gpdnn.logLikelihood > s.nn.logLikelihood).length;
    const calibrated = result.claims.find((c) => c.id === 'bradshaw.shift.calibrated')!;
    expect(calibrated.verdict).toBe(higher === labelled.length ? 'reproduced' : higher > 0 ? 'partly' : 'not reproduced');
    expect(calibrated.measured).toContain(`on ${higher} of ${labelled.length} shifted digit sets`);
    if (calibrated.verdict !== 'reproduced') expect(calibrated.measured).toMatch(/a reason \(a hypothesis from these numbers\): the GPDNN's mean predictive variance of f/);
    // Report: the section, every published number beside ours, the paper's own shifted sets, both figures.
    const i = report.indexOf('## Bradshaw, Matthews & Ghahramani 2017');
    expect(i).toBeGreaterThan(0);
    const section = report.slice(i, report.indexOf('\n## ', i + 3) < 0 ? undefined : report.indexOf('\n## ', i + 3));
    expect(section).not.toMatch(/^Not yet reproduced \(source/m);
    const data = loadPaperData();
    const lines = section.split('\n');
    const compared = data.numbers.filter((n) => n.paper === 'bradshaw2017' && !/^bradshaw\.shift\.(anomnist|semeion|svhn)\.|^bradshaw\.cw\.mnist\.images$/.test(n.id));
    expect(compared.length).toBe(4 + 2 + 8);
    for (const n of compared) {
      const rs = result.rows.filter((x) => x.paper?.id === n.id);
      expect(rs, n.id).toHaveLength(1);
      const r = rs[0];
      const line = lines.find((l) => l.includes(`| ${r.paper!.text} |`) && l.includes(`| ${r.measured.toFixed(3)} (n = `) && l.includes(`§ ${n.source.section}`));
      expect(line, `${n.id}: ${r.paper!.text} beside ${r.measured.toFixed(3)}`).toBeDefined();
      expect(line).toMatch(/agrees \(within|differs: \S/);
    }
    for (const k of ['anomnist', 'semeion', 'svhn']) {
      const v = (q: string) => data.numbers.find((n) => n.id === `bradshaw.shift.${k}.${q}`)!.value.toFixed(3);
      expect(section).toContain(`| ${v('nn.accuracy')} | ${v('nn.ll')} | ${v('gpdnn.accuracy')} | ${v('gpdnn.ll')} |`);
    }
    expect(section).toContain(`| ${calibrated.verdict} |`);
    for (const f of Object.values(BRADSHAW_FIGURES)) {
      expect(section).toContain(`](${f})`);
      expect(result.files).toContain(f);
      const svg = readFileSync(join(dir, f), 'utf8');
      checkSvg(svg);
      expect(count(svg, 'class="series"')).toBe(2);
      expect(svg).toContain('data-series="mnist-gpdnn"');
    }
    expect(result.sectionSeconds['Bradshaw et al. GPDNN']).toBeGreaterThan(0);
  });
});
