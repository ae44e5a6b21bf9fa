/**
 * The `probe` command: the extension's attack core in Node, JSON out.
 *   npm run probe -- bench [--backend wasm|cpu|webgpu|extension (the built extension in headless Chromium, its own choice)|extension:NAME (there, on NAME)|webgl (= extension:webgl)] [--workloads a,b] [--runs N] [--save NAME | --against REF] [--json]
 *   npm run probe -- reproduce [--quick] [--out DIR]
 *   npm run probe -- defend --model ID [--attack ID] [--<param> V …] [--n 100] [--json]
 *   npm run probe -- eval [--model ID] [--backend wasm|cpu|webgpu] [--n N] [--json]
 *   npm run probe -- attack --model ID --attack ID [--targets none|all|random|next] [--<param> V …] [--n 1000] [--backend B] [--json]
 */
import { ATTACKS, requireAttack, resolveParams, type AttackMeta, type ParamValues, type VaeAttackSpec } from '../core/attacks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ProbeError, toErrorInfo } from '../core/errors';
import { mulberry32 } from '../core/random';
import { parseVaeExamples, VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID } from '../core/models/vae-examples';
import { attackVaeRows, VaeAttackAccumulator, type VaeAttackRow } from '../core/metrics/vae-attack';
import { CATALOG, catalogEntry, type DatasetId } from '../core/models/catalog';
import { CARD_ELBO, testElbo } from '../core/metrics/elbo';
import { accuracy, evaluateAttack, TARGET_MODES, type TargetMode } from '../core/metrics/evaluate';
import { runBenchAgainst } from '../../bench/against';
import { EXTENSION_BACKEND, extensionBackendOf, runBench, runBenchInExtension, WORKLOADS, type BenchResult, type Workload } from '../../bench/workloads';
import { NODE_BACKENDS, useNodeBackend, type NodeBackend } from './backend';
import type { Dataset } from './data';
import { datasetSplit } from './datasets';
import { loadShippedClassifier, loadShippedVae, MODELS_DIR } from './models';
import { reproduceCommand, USAGE_LINE as REPRODUCE_USAGE } from './reproduce';
import { defendCommand, DEFEND_USAGE_LINE } from './defend';

export interface Args {
  readonly command: string;
  readonly flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[]): Args {
  const [command = 'help', ...rest] = argv;
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new ProbeError('BAD_INPUT', `unexpected argument "${a}"`);
    const key = a.slice(2);
    const next = rest[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.set(key, next);
      i++;
    } else flags.set(key, true);
  }
  return { command, flags };
}

function str(a: Args, key: string, def?: string): string {
  const v = a.flags.get(key);
  if (v === undefined || v === true) {
    if (def !== undefined) return def;
    throw new ProbeError('BAD_INPUT', `--${key} is required`);
  }
  return v;
}

function num(a: Args, key: string, def: number, check: (v: number) => boolean, what: string): number {
  const v = a.flags.get(key);
  if (v === undefined) return def;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || !check(n)) throw new ProbeError('BAD_INPUT', `--${key} must be ${what}`);
  return n;
}

function testSet(dataset: DatasetId): Dataset {
  return datasetSplit(dataset, 'test');
}

function backendOf(a: Args): NodeBackend {
  const b = str(a, 'backend', 'wasm');
  if (!(NODE_BACKENDS as readonly string[]).includes(b)) throw new ProbeError('BAD_INPUT', `--backend must be one of ${NODE_BACKENDS.join(', ')}`);
  return b as NodeBackend;
}

/** eval: accuracy of every shipped model (or --model) on its full real test set. */
export async function runEval(a: Args): Promise<Record<string, unknown>[]> {
  const backend = await useNodeBackend(backendOf(a));
  const only = a.flags.get('model');
  const entries = typeof only === 'string' ? [catalogEntry(only) ?? badModel(only)] : CATALOG;
  const out: Record<string, unknown>[] = [];
  for (const e of entries) {
    const set = testSet(e.dataset);
    const n = Math.min(num(a, 'n', set.n, (v) => Number.isInteger(v) && v > 0, 'a positive integer'), set.n);
    const t0 = performance.now();
    if (e.kind === 'vae') {
      // Same estimator and seed as the card.
      const vae = await loadShippedVae(e.id);
      const r = await testElbo(vae, set.images, n, CARD_ELBO);
      vae.dispose();
      out.push({ id: e.id, dataset: e.dataset, testElbo: r.elbo, logLikelihood: r.logLikelihood, kl: r.kl, n, backend, seconds: (performance.now() - t0) / 1000 });
      continue;
    }
    const model = await loadShippedClassifier(e.id);
    const acc = await accuracy(model, set, { n });
    out.push({ id: e.id, dataset: e.dataset, testAccuracy: acc, n, backend, seconds: (performance.now() - t0) / 1000 });
    model.dispose();
  }
  return out;
}

function badModel(id: string): never {
  throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}"; shipped: ${CATALOG.map((c) => c.id).join(', ')}`);
}

const COMMON_ATTACK_FLAGS = new Set(['model', 'attack', 'n', 'backend', 'json', 'targets', 'seed', 'batch']);
const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The attack's own parameters from the command line (`--eps 0.3`, `--max-distortion 0.145`, `--steps 40` …). */
export function attackParamsFromFlags(a: Args, attack: AttackMeta): ParamValues {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of a.flags) {
    if (COMMON_ATTACK_FLAGS.has(k)) continue;
    raw[camel(k)] = v === true ? 'true' : v;
  }
  return resolveParams(attack, raw, { coerce: true });
}

/** attack: run one registered attack over the first n test images (paper protocol, see evaluateAttack). */
export async function runAttack(a: Args): Promise<Record<string, unknown>> {
  const attack = requireAttack(str(a, 'attack', 'fgsm'));
  if (attack.model === 'vae') return runVaeAttack(a, attack);
  const id = str(a, 'model');
  const entry = catalogEntry(id) ?? badModel(id);
  const params = attackParamsFromFlags(a, attack);
  const targets = str(a, 'targets', attack.untargeted ? 'none' : 'random') as TargetMode;
  if (!TARGET_MODES.includes(targets)) throw new ProbeError('BAD_INPUT', `--targets must be one of ${TARGET_MODES.join(', ')}`);
  if (targets !== 'none' && !attack.targeted) throw new ProbeError('BAD_INPUT', `${attack.id} has no targeted variant`);
  if (targets === 'none' && !attack.untargeted) throw new ProbeError('BAD_INPUT', `${attack.id} is targeted only: use --targets all|random|next`);
  const set = testSet(entry.dataset);
  const n = num(a, 'n', 1000, (v) => Number.isInteger(v) && v > 0 && v <= set.n, `an integer in [1, ${set.n}]`);
  const seed = num(a, 'seed', 1, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  const batch = a.flags.has('batch') ? num(a, 'batch', 100, (v) => Number.isInteger(v) && v > 0 && v <= 10000, 'an integer in [1, 10000]') : undefined;
  const backend = await useNodeBackend(backendOf(a));
  const model = await loadShippedClassifier(id);
  const t0 = performance.now();
  try {
    const r = await evaluateAttack(model, attack, set, params, { n, targets, seed, batch });
    return { model: id, ...r, attack: attack.id, params, seconds: (performance.now() - t0) / 1000, backend };
  } finally {
    model.dispose();
  }
}

/**
 * A VAE attack (Kos et al.) on mnist-vae with the classifier on its latent mean (mnist-vae-clf): the
 * first n test images, targets by --targets (default next), each target's example from
 * models/mnist-vae/examples.json (as in the extension); success measured by the reconstruction-feedback
 * label ŷ = f_class(f_enc(x̂*)): AS_target and AS_ignore-target per (source, target) pair.
 */
async function runVaeAttack(a: Args, attack: VaeAttackSpec): Promise<Record<string, unknown>> {
  const params = attackParamsFromFlags(a, attack);
  const targets = str(a, 'targets', 'next') as TargetMode;
  if (targets === 'none' || !TARGET_MODES.includes(targets)) throw new ProbeError('BAD_INPUT', `${attack.id} is targeted: --targets all|random|next`);
  const set = testSet('mnist');
  const n = num(a, 'n', 100, (v) => Number.isInteger(v) && v > 0 && v <= set.n, `an integer in [1, ${set.n}]`);
  const seed = num(a, 'seed', 1, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  const batch = num(a, 'batch', 100, (v) => Number.isInteger(v) && v > 0 && v <= 10000, 'an integer in [1, 10000]');
  const backend = await useNodeBackend(backendOf(a));
  const vae = await loadShippedVae(VAE_ID);
  const classifier = await loadShippedClassifier(VAE_CLASSIFIER_ID);
  const examples = parseVaeExamples(JSON.parse(readFileSync(join(MODELS_DIR, VAE_ID, VAE_EXAMPLES_FILE), 'utf8')), vae.inputShape);
  const models = { vae, classifier };
  const acc = new VaeAttackAccumulator();
  const nextRand = mulberry32(seed);
  const rows: VaeAttackRow[] = [];
  for (let i = 0; i < n; i++) {
    const label = set.labels[i];
    if (targets === 'all') for (let t = 0; t < 10; t++) { if (t !== label) rows.push({ index: i, label, target: t }); }
    else if (targets === 'next') rows.push({ index: i, label, target: (label + 1) % 10 });
    else rows.push({ index: i, label, target: (label + 1 + Math.floor(nextRand() * 9)) % 10 });
  }
  const t0 = performance.now();
  let ms = 0;
  try {
    ms = await attackVaeRows(attack, models, params, set.images, rows, examples, acc, { batch });
  } finally {
    vae.dispose();
    classifier.dispose();
  }
  const m = acc.result(10);
  return {
    model: `${VAE_ID} + ${VAE_CLASSIFIER_ID}`, attack: attack.id, params, targets, n, attacked: rows.length,
    asTarget: m.meanAsTarget, asIgnoreTarget: m.meanAsIgnoreTarget, meanL2: m.meanL2,
    asTargetMatrix: m.asTarget, asIgnoreTargetMatrix: m.asIgnoreTarget, counts: m.counts,
    msPerImage: ms / Math.max(rows.length, 1), seconds: (performance.now() - t0) / 1000, backend,
  };
}

/** bench: the fixed workloads (bench/workloads.ts), medians over repeated runs, one JSON line each. */
export async function runBenchCommand(a: Args, print: (r: BenchResult) => void): Promise<BenchResult[]> {
  const flag = a.flags.get('backend');
  const inExtension = typeof flag === 'string' ? extensionBackendOf(flag) : undefined;
  const against = a.flags.get('against');
  if (against !== undefined) {
    if (against === true) throw new ProbeError('BAD_INPUT', '--against needs a git commit (a hash, tag or branch)');
    if (a.flags.has('save')) throw new ProbeError('BAD_INPUT', '--against times two builds; --save keeps one: run them apart');
  }
  const backend = inExtension !== undefined ? EXTENSION_BACKEND : against !== undefined ? backendOf(a) : await useNodeBackend(backendOf(a));
  const list = a.flags.get('workloads');
  const only = typeof list === 'string' ? list.split(',').map((w) => w.trim()) : undefined;
  for (const w of only ?? []) if (!(WORKLOADS as readonly string[]).includes(w)) throw new ProbeError('BAD_INPUT', `unknown workload "${w}"; known: ${WORKLOADS.join(', ')}`);
  const runs = a.flags.has('runs') ? num(a, 'runs', 5, (v) => Number.isInteger(v) && v > 0 && v <= 1000, 'an integer in [1, 1000]') : undefined;
  const save = a.flags.get('save');
  if (save !== undefined && (save === true || !/^[A-Za-z0-9._-]{1,64}$/.test(save))) throw new ProbeError('BAD_INPUT', '--save needs a file name (letters, digits, . _ -)');
  if (typeof against === 'string') {
    return runBenchAgainst({ ref: against, backendFlag: typeof flag === 'string' ? flag : backend, workloads: (only as Workload[] | undefined) ?? WORKLOADS, runs, onResult: print });
  }
  if (inExtension !== undefined) return runBenchInExtension({ only: only as Workload[] | undefined, runs, saveAs: save, onResult: print, ...(inExtension ? { backend: inExtension } : {}) });
  return runBench({ backend, only: only as Workload[] | undefined, runs, saveAs: save, onResult: print });
}

const USAGE = `usage: probe <command> [flags]
  eval   [--model ID] [--n N] [--backend wasm|cpu|webgpu] [--json]
  bench  [--backend wasm|cpu|webgpu|webgl|extension|extension:NAME] [--workloads ${WORKLOADS.join(',')}] [--runs N] [--save NAME | --against REF] [--json]
  attack [--model ID] --attack ${ATTACKS.map((x) => x.id).join('|')} [--targets none|all|random|next] [--n 1000] [--seed S]
         [--backend B] [--json] [--<param> value …]   attack parameters:
${ATTACKS.map((x) => `           ${x.id}: ${x.params.map((p) => `--${p.key} (${String(p.default)})`).join(' ')}`).join('\n')}
  ${REPRODUCE_USAGE}
  ${DEFEND_USAGE_LINE}`;

export async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
    const json = args.flags.has('json');
    if (args.command === 'eval') {
      const rows = await runEval(args);
      for (const r of rows) console.log(json ? JSON.stringify(r) : `${r.id}: ${(100 * (r.testAccuracy as number)).toFixed(2)}% on ${r.n} (${r.backend})`);
      return 0;
    }
    if (args.command === 'bench') {
      await runBenchCommand(args, (r) => console.log(json ? JSON.stringify(r) : `${r.workload} (${r.backend}): median ${r.medianMs} ms over ${r.runs} runs`));
      return 0;
    }
    if (args.command === 'attack') {
      const r = await runAttack(args);
      console.log(json ? JSON.stringify(r) : JSON.stringify(r, null, 2));
      return 0;
    }
    if (args.command === 'defend') {
      await defendCommand(args.flags);
      return 0;
    }
    if (args.command === 'reproduce') {
      await reproduceCommand(args.flags);
      return 0;
    }
    if (args.command === 'help' || args.flags.has('help')) {
      console.log(USAGE);
      return 0;
    }
    throw new ProbeError('BAD_INPUT', `unknown command "${args.command}"`);
  } catch (e) {
    const info = toErrorInfo(e);
    console.error(JSON.stringify({ error: info }));
    if (info.code === 'BAD_INPUT') console.error(USAGE);
    return info.code === 'BAD_INPUT' ? 2 : 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /probe\.ts$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
