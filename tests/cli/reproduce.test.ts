import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crossing, FIGURES, KOS_FIGURES, loadPaperData, PAPERNOT_FIGURES, pct, planFor, REPORT_FILE, RESULTS_FILE, reproduceOptions, type ReproduceResult,
} from '../../src/cli/reproduce';
import { escapeXml, heatmap, imageGrid, lineChart, niceTicks } from '../../src/cli/svg';
import { formatPaperNumber } from '../../src/core/metrics/reproduce-papers';

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
    expect(full).toMatchObject({ n: 10000, nLr: 2038, bimN: 1000, trainN: 60000, szegedyN: 100, papernotN: 100, papernotSets: ['training', 'validation', 'test'], kosK: 10 });
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
    expect(o.files).toEqual(expect.arrayContaining([REPORT_FILE, RESULTS_FILE, ...Object.values(FIGURES), ...Object.values(PAPERNOT_FIGURES).flatMap((f) => [f.success, f.distortion]), ...Object.values(KOS_FIGURES.asTarget), KOS_FIGURES.examples]));
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
    for (const h of ['Bradshaw']) {
      const i = report.indexOf(`## ${h}`);
      expect(i, h).toBeGreaterThan(0);
      expect(report.slice(i, report.indexOf('\n## ', i + 3))).toContain('Not yet reproduced');
    }
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
    expect(section).toContain('### Not yet reproduced');
    expect(section).toMatch(/hardness matrix H\(s, t\)/);
    expect(section).toMatch(/adversarial distance A\(X, t\)/);
    for (const f of Object.values(PAPERNOT_FIGURES)) {
      expect(section).toContain(`](${f.success})`);
      expect(section).toContain(`](${f.distortion})`);
    }
    expect(result.claims.find((c) => c.id === 'papernot.pairs.uneven')).toBeDefined();
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
    }
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
});
