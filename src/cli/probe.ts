/**
 * The `probe` command: the extension's attack core in Node, JSON out.
 *   npm run probe -- eval [--model ID] [--backend wasm|cpu|webgpu] [--n N] [--json]
 *   npm run probe -- attack --model ID --attack fgsm --eps 0.25 [--norm inf|2] [--n 1000] [--backend B] [--json]
 */
import { ATTACKS, getAttack, type Norm } from '../core/attacks';
import { ProbeError, toErrorInfo } from '../core/errors';
import { CATALOG, catalogEntry, type DatasetId } from '../core/models/catalog';
import { CARD_ELBO, testElbo } from '../core/metrics/elbo';
import { accuracy, evaluateAttack } from '../core/metrics/evaluate';
import { NODE_BACKENDS, useNodeBackend, type NodeBackend } from './backend';
import type { Dataset } from './data';
import { datasetSplit } from './datasets';
import { loadShippedClassifier, loadShippedVae } from './models';

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

/** attack: run one registered attack over the first n test images. */
export async function runAttack(a: Args): Promise<Record<string, unknown>> {
  const id = str(a, 'model');
  const entry = catalogEntry(id) ?? badModel(id);
  const attackId = str(a, 'attack', 'fgsm');
  const attack = getAttack(attackId);
  if (!attack) throw new ProbeError('BAD_INPUT', `unknown attack "${attackId}"; available: ${ATTACKS.map((x) => x.id).join(', ')}`);
  const eps = num(a, 'eps', 0.25, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const normFlag = str(a, 'norm', 'inf');
  if (normFlag !== 'inf' && normFlag !== '2') throw new ProbeError('BAD_INPUT', '--norm must be inf or 2');
  const norm: Norm = normFlag === 'inf' ? 'inf' : 2;
  if (!attack.norms.includes(norm)) throw new ProbeError('BAD_INPUT', `${attack.id} does not support --norm ${normFlag}`);
  const set = testSet(entry.dataset);
  const n = num(a, 'n', 1000, (v) => Number.isInteger(v) && v > 0 && v <= set.n, `an integer in [1, ${set.n}]`);
  const backend = await useNodeBackend(backendOf(a));
  const model = await loadShippedClassifier(id);
  const r = await evaluateAttack(model, attack, set, { eps, norm }, { n });
  model.dispose();
  return {
    model: id,
    attack: attack.id,
    params: { eps, norm: normFlag, targeted: false },
    n: r.n,
    cleanAccuracy: r.cleanAccuracy,
    successRate: r.successRate,
    meanAdvConfidence: r.meanAdvConfidence,
    meanL0: r.meanL0,
    meanL2: r.meanL2,
    meanLinf: r.meanLinf,
    msPerImage: r.msPerImage,
    backend,
  };
}

const USAGE = `usage: probe <command> [flags]
  eval   [--model ID] [--n N] [--backend wasm|cpu|webgpu] [--json]
  attack --model ID --attack ${ATTACKS.map((x) => x.id).join('|')} [--eps 0.25] [--norm inf|2] [--n 1000] [--backend B] [--json]`;

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
    if (args.command === 'attack') {
      const r = await runAttack(args);
      console.log(json ? JSON.stringify(r) : JSON.stringify(r, null, 2));
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
