/**
 * `probe bench` in Node: loads the shipped models and the MNIST test set, times the workloads of
 * src/core/bench.ts (the extension's service worker times the same ones) and keeps each release's
 * results in bench/results/ with the ratio to the last one on the same backend.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { timeWorkloads, WORKLOADS, type BenchModels, type BenchResult, type Workload } from '../src/core/bench';
import { parseVaeExamples, VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID } from '../src/core/models/vae-examples';
import type { Uncertain } from '../src/core/models/types';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier, loadShippedVae, MODELS_DIR } from '../src/cli/models';
import { ProbeError } from '../src/core/errors';
import { BENCH_IMAGES, type Reply, type Req } from '../src/protocol/messages';
import { bytesToBase64 } from '../src/protocol/base64';
import { BACKEND_NAMES, isBackendName, type BackendName } from '../src/protocol/types';
import { machineOf } from './against';

export { WORKLOADS, type BenchResult, type Workload };

/** `--backend extension`: the workloads inside the built extension (dist/) in headless Chromium. */
export const EXTENSION_BACKEND = 'extension';

/**
 * The extension backend a `--backend` value names: `extension` (null: the one the extension chooses),
 * `extension:<name>` (that one, asked for by name), `webgl` (Node has no WebGL: the extension's); undefined when
 * the value is not an extension backend (a Node one).
 */
export function extensionBackendOf(flag: string): BackendName | null | undefined {
  if (flag === EXTENSION_BACKEND) return null;
  if (flag === 'webgl') return 'webgl';
  const m = /^extension:(.+)$/.exec(flag);
  if (!m) return undefined;
  if (!isBackendName(m[1])) throw new ProbeError('BAD_INPUT', `--backend extension:<name> needs one of ${BACKEND_NAMES.join(', ')}`);
  return m[1];
}

const RESULTS_DIR = join('bench', 'results');

/** A saved row: a release's timing of one workload, and the machine it ran on where recorded. */
interface Saved {
  readonly medianMs: number;
  readonly machine?: string;
}

function latestSaved(backend: string): Map<string, Saved> {
  const out = new Map<string, Saved>();
  if (!existsSync(RESULTS_DIR)) return out;
  const files = readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json')).sort();
  for (const f of files.reverse()) {
    const rows = JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as (BenchResult & { machine?: string })[];
    for (const r of rows) if (r.backend === backend && !out.has(r.workload)) out.set(r.workload, { medianMs: r.medianMs, machine: r.machine });
  }
  return out;
}

/** A row as printed and saved: the machine it ran on, and where the last release ran elsewhere, that machine. */
export type MachineResult = BenchResult & { readonly machine: string; readonly lastMachine?: string };

/**
 * Adds the machine to a row and, where its ratioToLast compares with a release timed on another machine (or one
 * that did not record it), `lastMachine`: such a ratio mixes the change with the machine (`--against` does not).
 */
export function withMachine(r: BenchResult, last: ReadonlyMap<string, Saved>, machine = machineOf()): MachineResult {
  const prev = last.get(r.workload);
  return { ...r, machine, ...(prev && prev.machine !== machine ? { lastMachine: prev.machine ?? 'not recorded' } : {}) };
}

const mediansOf = (last: ReadonlyMap<string, Saved>): Map<string, number> => new Map([...last].map(([w, s]) => [w, s.medianMs]));

export interface BenchOptions {
  readonly backend: string;
  readonly only?: readonly Workload[];
  /** Timed runs per workload (after warm-up); slow workloads use fewer. */
  readonly runs?: number;
  /** Write the results to bench/results/<name>.json. */
  readonly saveAs?: string;
  readonly onResult?: (r: BenchResult) => void;
}

function save(name: string, results: BenchResult[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
}

/** A 'probe/bench' request: `workloads` on the first 100 MNIST test images (grey levels 0–255) and their labels, on `backend` if given. */
export function benchRequest(workloads: readonly Workload[], runs: number | null, backend?: BackendName): Req<'probe/bench'> {
  const data = loadMnist('test');
  const bytes = Uint8Array.from(data.images.subarray(0, BENCH_IMAGES * 784), (v) => Math.round(v * 255));
  return {
    workloads: [...workloads], runs, imagesBase64: bytesToBase64(bytes), labels: Array.from(data.labels.subarray(0, BENCH_IMAGES)),
    ...(backend ? { backend } : {}),
  };
}

/**
 * The same workloads timed by the built extension's service worker on the backend it chose, or on `backend` when
 * given (message 'probe/bench', sent from an extension page), on the same 100 MNIST test images. Rows are
 * labelled `chromium-extension/<backend>`. Needs `npm run build` first.
 */
export async function runBenchInExtension(opts: Omit<BenchOptions, 'backend'> & { backend?: BackendName; timeoutMs?: number }): Promise<BenchResult[]> {
  if (!existsSync(join('dist', 'manifest.json'))) throw new ProbeError('BAD_INPUT', 'build the extension first (npm run build)');
  const payload = benchRequest(opts.only ?? WORKLOADS, opts.runs ?? null, opts.backend);
  // Imported here, not at the top: the GPU bundle (bench/gpu.ts) must not carry playwright.
  const { launchExtension, POPUP_PATH, withTimeout } = await import('../src/cli/browser');
  const session = await launchExtension();
  try {
    const page = await session.context.newPage();
    await page.goto(`chrome-extension://${session.extensionId}/${POPUP_PATH}`);
    const reply = await withTimeout(
      page.evaluate((msg) => chrome.runtime.sendMessage(msg) as Promise<Reply<'probe/bench'>>, { type: 'probe/bench', payload }),
      opts.timeoutMs ?? 1_800_000, 'the extension benchmark');
    if (!reply.ok) throw new ProbeError(reply.error.code, `the extension benchmark failed: ${reply.error.message}`);
    const last = latestSaved(`chromium-extension/${reply.data[0]?.backend ?? ''}`);
    const results = reply.data.map((r): MachineResult => {
      const backend = `chromium-extension/${r.backend}`;
      const prev = last.get(r.workload);
      const { ratioToLast: _, ...rest } = r;
      return withMachine({ ...rest, backend, ...(prev ? { ratioToLast: Math.round((r.medianMs / prev.medianMs) * 100) / 100 } : {}) }, last);
    });
    for (const r of results) opts.onResult?.(r);
    if (opts.saveAs) save(opts.saveAs, results);
    return results;
  } finally {
    await session.close();
  }
}

/** Runs the workloads and returns one result each (also passed to onResult as they finish). */
export async function runBench(opts: BenchOptions): Promise<BenchResult[]> {
  const data = loadMnist('test');
  const examplesRaw = JSON.parse(readFileSync(join(MODELS_DIR, VAE_ID, VAE_EXAMPLES_FILE), 'utf8')) as unknown;
  const vae = await loadShippedVae(VAE_ID);
  const m: BenchModels = {
    lenet: await loadShippedClassifier('mnist-lenet'),
    gpdnn: (await loadShippedClassifier('mnist-gpdnn')) as Uncertain,
    vae,
    vaeClf: await loadShippedClassifier(VAE_CLASSIFIER_ID),
    examples: parseVaeExamples(examplesRaw, vae.inputShape),
  };
  try {
    const last = latestSaved(opts.backend);
    const machine = machineOf();
    const results = (
      await timeWorkloads(m, data, {
        backend: opts.backend, only: opts.only, runs: opts.runs, last: mediansOf(last), onResult: (r) => opts.onResult?.(withMachine(r, last, machine)),
      })
    ).map((r) => withMachine(r, last, machine));
    if (opts.saveAs) save(opts.saveAs, results);
    return results;
  } finally {
    for (const c of [m.lenet, m.gpdnn, m.vae, m.vaeClf]) c.dispose();
  }
}
