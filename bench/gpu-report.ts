/**
 * Renders bench/results/gpu/REPORT.md from the raw outputs of GPU runs (bench/gpu-run.sh): one folder
 * per run with webgpu.jsonl (tfjs WebGPU through Dawn/Vulkan), torch.jsonl (PyTorch eager on the same
 * card in the same call) and nvidia-smi.csv. `npx tsx bench/gpu-report.ts` rewrites the file;
 * tests/bench/gpu-report.test.ts checks that it is current.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const GPU_RESULTS_DIR = join('bench', 'results', 'gpu');
export const GPU_REPORT = join(GPU_RESULTS_DIR, 'REPORT.md');

/** Micro-workloads with a target: WebGPU within this factor of PyTorch eager on the same card (issue 8). */
const TARGETS: Readonly<Record<string, number>> = { 'fgsm-100': 3, 'cw-step-900': 3 };

type Row = Record<string, unknown> & { kind: string; workload?: string; medianMs?: number };

const readJsonl = (p: string): Row[] =>
  existsSync(p)
    ? readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row)
    : [];
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

function renderRun(dir: string, name: string): string[] {
  const web = readJsonl(join(dir, 'webgpu.jsonl'));
  const torch = readJsonl(join(dir, 'torch.jsonl'));
  const smi = existsSync(join(dir, 'nvidia-smi.csv')) ? readFileSync(join(dir, 'nvidia-smi.csv'), 'utf8').trim().split('\n')[1] ?? '' : '';
  const env = web.find((r) => r.kind === 'env');
  const tenv = torch.find((r) => r.kind === 'torch-env');
  const out = [`## Run ${name}`, ''];
  if (existsSync(join(dir, 'note.txt'))) out.push(readFileSync(join(dir, 'note.txt'), 'utf8').trim(), '');
  out.push(`GPU (nvidia-smi: name, driver, memory, SM clock now, max): ${smi || 'not recorded'}. tfjs ${String(env?.tfjs ?? '?')} on Node ${String(env?.node ?? '?')}, Dawn backend ${String(env?.dawn ?? '?')}; PyTorch ${String(tenv?.torch ?? '?')}.`, '');
  const tByName = new Map(torch.filter((r) => r.kind === 'torch').map((r) => [r.workload, r]));
  out.push('| micro-workload | tfjs WebGPU median ms | PyTorch eager median ms | ratio | target | what |', '|---|---|---|---|---|---|');
  for (const r of web.filter((x) => x.kind === 'micro' && x.workload !== 'profile')) {
    const t = tByName.get(r.workload);
    const ratio = t?.medianMs ? (r.medianMs as number) / t.medianMs : undefined;
    const target = TARGETS[r.workload as string];
    const verdict = target === undefined || ratio === undefined ? '' : `≤ ${target}×: ${ratio <= target ? 'met' : 'not met'}`;
    const tf = typeof r.tflops === 'number' ? ` (${r.tflops} TFLOP/s; PyTorch ${String(t?.tflops ?? '?')})` : '';
    out.push(`| ${String(r.workload)} | ${fmt(r.medianMs as number)} | ${t ? fmt(t.medianMs as number) : '—'} | ${ratio ? `${ratio.toFixed(1)}×` : '—'} | ${verdict} | ${String(r.unit)}${tf} |`);
  }
  const tf32 = tByName.get('matmul-2048-tf32');
  if (tf32) out.push('', `PyTorch with TF32 allowed: matmul 2048 ${fmt(tf32.medianMs as number)} ms (${String(tf32.tflops)} TFLOP/s).`);
  const prof = web.find((r) => r.kind === 'micro' && r.workload === 'profile')?.profile as Record<string, { timing: { wallMs?: number; kernelMs?: number | null }; kernels: { name: string; count: number; ms: number | null }[] }> | undefined;
  if (prof) {
    out.push('', 'Where the time goes (tf.time: wall time of the ops with per-kernel GPU timers on, and the summed GPU kernel time; tf.profile: kernels by GPU time):', '');
    for (const [k, v] of Object.entries(prof)) {
      const top = Array.isArray(v.kernels) ? v.kernels.filter((x) => (x.ms ?? 0) > 0).slice(0, 5).map((x) => `${x.name} ×${x.count} ${fmt(x.ms ?? 0)} ms`).join(', ') : 'n/a';
      const n = Array.isArray(v.kernels) ? v.kernels.reduce((s, x) => s + x.count, 0) : 0;
      out.push(`- ${k}: wall ${v.timing.wallMs ?? '?'} ms, GPU kernels ${v.timing.kernelMs ?? '?'} ms over ${n} kernel calls; top: ${top}.`);
    }
  }
  const bench = web.filter((r) => r.kind === 'bench');
  if (bench.length > 0) {
    out.push('', '| probe bench workload (webgpu) | median ms | min | max | runs |', '|---|---|---|---|---|');
    for (const r of bench) out.push(`| ${String(r.workload)} | ${fmt(r.medianMs as number)} | ${fmt(r.minMs as number)} | ${fmt(r.maxMs as number)} | ${String(r.runs)} |`);
  }
  const done = web.find((r) => r.kind === 'done');
  out.push('', done ? `Finished in ${(done.seconds as number).toFixed(0)} s.` : 'The WebGPU script hit its time limit before finishing: the workloads missing above did not complete.', '');
  return out;
}

/**
 * A diagnostic run (bench/gpu-diag.sh): the raw WebGPU call costs and the micro-workloads of each variant
 * (one <variant>.jsonl each; base.jsonl is the code as committed then, the others switch parts on or off as
 * note.txt says).
 */
function renderDiag(dir: string, name: string): string[] {
  const out = [`## Run ${name} (diagnostic: bench/gpu-diag.sh)`, ''];
  if (existsSync(join(dir, 'note.txt'))) out.push(readFileSync(join(dir, 'note.txt'), 'utf8').trim(), '');
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl') && f !== 'torch.jsonl').sort((a, b) => (a === 'base.jsonl' ? -1 : b === 'base.jsonl' ? 1 : a.localeCompare(b)));
  const variants = files.map((f) => ({ name: f.replace(/\.jsonl$/, ''), rows: readJsonl(join(dir, f)) }));
  const raw = variants.flatMap((v) => v.rows.filter((r) => r.kind === 'raw'));
  if (raw.length > 0) {
    out.push('| raw WebGPU (no tfjs) | median ms | what |', '|---|---|---|');
    for (const r of raw) out.push(`| ${String(r.workload)} | ${fmt(r.medianMs as number)} | ${String(r.unit)} |`);
    out.push('');
  }
  const names = [...new Set(variants.flatMap((v) => v.rows.filter((r) => r.kind === 'micro' && r.workload !== 'profile').map((r) => String(r.workload))))];
  out.push(`| variant | ${names.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`);
  for (const v of variants) {
    const by = new Map(v.rows.filter((r) => r.kind === 'micro').map((r) => [String(r.workload), r.medianMs as number]));
    out.push(`| ${v.name} | ${names.map((n) => (by.has(n) ? fmt(by.get(n) as number) : '—')).join(' | ')} |`);
  }
  const torch = new Map(readJsonl(join(dir, 'torch.jsonl')).filter((r) => r.kind === 'torch').map((r) => [String(r.workload), r.medianMs as number]));
  if (torch.size > 0) out.push(`| PyTorch eager, same call | ${names.map((n) => (torch.has(n) ? fmt(torch.get(n) as number) : '—')).join(' | ')} |`);
  out.push('', 'Medians in ms (micro-workloads as in the table of the runs above).', '');
  return out;
}

/** PyTorch eager medians of ../shared/gpu.md's reference table (H100, PyTorch 2.11), the issue's yardstick. */
const GPU_MD_TORCH_MS: Readonly<Record<TargetWorkload, number>> = { 'fgsm-100': 1.35, 'cw-step-900': 2.85 };

/** One line per measured build (run or variant) with the two target workloads: ratios to PyTorch in the same call and to gpu.md's figures. */
function summary(root: string, runs: readonly string[]): string[] {
  const out = [
    '## Summary of the targets',
    '',
    `Target (issue 8): tfjs WebGPU within 3× of PyTorch eager. Ratios to PyTorch in the same call, and to the PyTorch figures of ../shared/gpu.md (${Object.entries(GPU_MD_TORCH_MS).map(([k, v]) => `${k} ${v} ms`).join(', ')}).`,
    '',
    '| run | build | fgsm-100 ms | ratio same call | ratio gpu.md | cw-step-900 ms | ratio same call | ratio gpu.md |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const cell = (ms: number | undefined, ref: number | undefined): string => (ms !== undefined && ref ? `${(ms / ref).toFixed(2)}×` : '—');
  const samples: Sample[] = [];
  for (const r of runs) {
    const dir = join(root, r);
    const torch = new Map(readJsonl(join(dir, 'torch.jsonl')).filter((x) => x.kind === 'torch').map((x) => [String(x.workload), x.medianMs as number]));
    const builds = existsSync(join(dir, 'base.jsonl'))
      ? readdirSync(dir).filter((f) => f.endsWith('.jsonl') && f !== 'torch.jsonl').sort().map((f) => ({ name: f.replace(/\.jsonl$/, ''), rows: readJsonl(join(dir, f)) }))
      : [{ name: 'as committed', rows: readJsonl(join(dir, 'webgpu.jsonl')) }];
    for (const b of builds) {
      const m = new Map(b.rows.filter((x) => x.kind === 'micro').map((x) => [String(x.workload), x.medianMs as number]));
      const f = m.get('fgsm-100');
      const c = m.get('cw-step-900');
      if (f === undefined && c === undefined) continue;
      const build = existsSync(join(dir, 'build.txt')) ? readFileSync(join(dir, 'build.txt'), 'utf8').trim() : '';
      if (build && (b.name === 'as committed' || b.name === 'base')) {
        samples.push({ card: cardOf(dir), build, ms: { 'fgsm-100': f, 'cw-step-900': c }, torch: { 'fgsm-100': torch.get('fgsm-100'), 'cw-step-900': torch.get('cw-step-900') } });
      }
      out.push(`| ${r} | ${b.name} | ${f !== undefined ? fmt(f) : '—'} | ${cell(f, torch.get('fgsm-100'))} | ${cell(f, GPU_MD_TORCH_MS['fgsm-100'])} | ${c !== undefined ? fmt(c) : '—'} | ${cell(c, torch.get('cw-step-900'))} | ${cell(c, GPU_MD_TORCH_MS['cw-step-900'])} |`);
    }
  }
  out.push('', ...medians(samples));
  return out;
}

/** One timing of the two target workloads by a build named in its run's build.txt (as committed, or a diagnostic's `base`). */
interface Sample {
  card: string;
  build: string;
  ms: Record<TargetWorkload, number | undefined>;
  torch: Record<TargetWorkload, number | undefined>;
}
type TargetWorkload = 'fgsm-100' | 'cw-step-900';

const cardOf = (dir: string): string => {
  const p = join(dir, 'nvidia-smi.csv');
  return (existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n')[1]?.split(',')[0]?.trim() : undefined) || 'unknown card';
};
const medianOf = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * The targets per card and build, over all its samples (runs with a build.txt): median time, median and
 * worst ratio to PyTorch in the same call, and the median time's ratio to gpu.md's PyTorch figure.
 */
function medians(samples: readonly Sample[]): string[] {
  if (samples.length === 0) return [];
  const out = [
    'Medians over the samples of one build on one card (runs with a build.txt; the build as committed, or a diagnostic\'s `base`): the median time, the median and the worst of the per-sample ratios to PyTorch in the same call, and the median time over gpu.md\'s PyTorch figure.',
    '',
    '| card | build | samples | fgsm-100 ms | ratio same call (worst) | ratio gpu.md | cw-step-900 ms | ratio same call (worst) | ratio gpu.md | targets ≤ 3× |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const groups = new Map<string, Sample[]>();
  for (const s of samples) groups.set(`${s.card}\u0000${s.build}`, [...(groups.get(`${s.card}\u0000${s.build}`) ?? []), s]);
  for (const group of groups.values()) {
    let met = true;
    const cells = (['fgsm-100', 'cw-step-900'] as const).map((w) => {
      const ms = group.map((s) => s.ms[w]).filter((v): v is number => v !== undefined);
      const ratios = group.flatMap((s) => (s.ms[w] !== undefined && s.torch[w] ? [(s.ms[w] as number) / (s.torch[w] as number)] : []));
      if (ms.length === 0) { met = false; return '— | — | —'; }
      const m = medianOf(ms);
      const vsMd = m / GPU_MD_TORCH_MS[w];
      const same = ratios.length > 0 ? medianOf(ratios) : undefined;
      met &&= vsMd <= 3 && (same === undefined || same <= 3);
      return `${fmt(m)} | ${same !== undefined ? `${same.toFixed(2)}× (${Math.max(...ratios).toFixed(2)}×)` : '—'} | ${vsMd.toFixed(2)}×`;
    });
    const [first] = group as [Sample];
    out.push(`| ${first.card} | ${first.build} | ${group.length} | ${cells.join(' | ')} | ${met ? 'met' : 'not met'} |`);
  }
  out.push('');
  return out;
}

/** The whole report, from every run folder (sorted by name). */
export function renderGpuReport(root = GPU_RESULTS_DIR): string {
  const runs = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];
  const lines = [
    '# WebGPU on an NVIDIA GPU: tfjs through Dawn/Vulkan vs PyTorch eager on the same card',
    '',
    'Generated by `npx tsx bench/gpu-report.ts` from the raw outputs beside this file; each run is one call of',
    '`bench/gpu-run.sh` (after `bench/gpu-prepare.sh`), PyTorch timed first in the same call. Medians; ratio = WebGPU / PyTorch.',
    '',
  ];
  lines.push(...summary(root, runs));
  for (const r of runs) lines.push(...(existsSync(join(root, r, 'base.jsonl')) ? renderDiag(join(root, r), r) : renderRun(join(root, r), r)));
  return `${lines.join('\n').trimEnd()}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(GPU_REPORT, renderGpuReport());
  console.log(`wrote ${GPU_REPORT}`);
}
