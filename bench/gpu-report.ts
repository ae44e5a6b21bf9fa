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
const GPU_MD_TORCH_MS: Readonly<Record<string, number>> = { 'fgsm-100': 1.35, 'cw-step-900': 2.85 };

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
      out.push(`| ${r} | ${b.name} | ${f !== undefined ? fmt(f) : '—'} | ${cell(f, torch.get('fgsm-100'))} | ${cell(f, GPU_MD_TORCH_MS['fgsm-100'])} | ${c !== undefined ? fmt(c) : '—'} | ${cell(c, torch.get('cw-step-900'))} | ${cell(c, GPU_MD_TORCH_MS['cw-step-900'])} |`);
    }
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
