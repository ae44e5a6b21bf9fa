/**
 * `probe defend`: the defenses of src/core/defenses on the first n MNIST test images, clean and
 * adversarial (a registered classifier attack crafted on --model, untargeted, true labels):
 * MagNet (mnist-vae detector + reformer with --model), the GPDNN's "unsure" flag (mnist-gpdnn) and the
 * vote of mnist-ensemble-5. Thresholds come from the generated calibration files (npm run calibrate).
 *   npm run probe -- defend --model mnist-lenet [--attack fgsm] [--eps 0.1] [--n 100] [--json]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLASSIFIER_ATTACKS, resolveParams, type ClassifierAttackSpec } from '../core/attacks';
import {
  magnetCalibrationOf, MAGNET_FILE, parseMagnetCalibrationFile, parseUncertaintyCalibrationFile, uncertaintyCalibrationOf, UNCERTAINTY_FILE,
} from '../core/defenses/calibration';
import { loadEnsemble } from '../core/defenses/ensemble';
import { evaluateDefenses, type DefenseReport } from '../core/defenses/evaluate';
import { magnet } from '../core/defenses/magnet';
import { isUncertain } from '../core/defenses/uncertainty';
import { ProbeError } from '../core/errors';
import { CATALOG, catalogEntry } from '../core/models/catalog';
import type { Classifier, Uncertain, Vae } from '../core/models/types';
import type { ParamValues } from '../core/attacks/types';
import { NODE_BACKENDS, useNodeBackend, type NodeBackend } from './backend';
import { loadMnist } from './data';
import { dirModelFiles, loadShippedClassifier, loadShippedVae, MODELS_DIR } from './models';

/** The shipped models the defenses use. */
export const DEFENSE_MODELS = { vae: 'mnist-vae', gpdnn: 'mnist-gpdnn', ensemble: 'mnist-ensemble-5' } as const;

/** One line of `probe help`. */
export const DEFEND_USAGE_LINE = 'defend --model ID [--attack ID (fgsm)] [--<param> value …] [--n 100] [--batch 100] [--backend wasm|cpu|webgpu] [--json]';

const COMMON_FLAGS = new Set(['model', 'attack', 'n', 'batch', 'backend', 'json']);
const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parsed options of `probe defend`. */
export interface DefendOptions {
  readonly model: string;
  readonly attack: ClassifierAttackSpec;
  readonly params: ParamValues;
  readonly n: number;
  readonly batch: number;
  readonly backend: NodeBackend;
}

function intFlag(flags: ReadonlyMap<string, string | true>, key: string, def: number, lo: number, hi: number): number {
  const v = flags.get(key);
  if (v === undefined) return def;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < lo || n > hi) throw new ProbeError('BAD_INPUT', `--${key} must be an integer in [${lo}, ${hi}]`);
  return n;
}

/** Reads the flags of `probe defend` (BAD_INPUT / MODEL_NOT_FOUND with a reason on anything wrong). */
export function defendOptions(flags: ReadonlyMap<string, string | true>): DefendOptions {
  const model = flags.get('model');
  if (typeof model !== 'string') throw new ProbeError('BAD_INPUT', '--model is required (an MNIST classifier, e.g. mnist-lenet)');
  const entry = catalogEntry(model);
  if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${model}"; shipped: ${CATALOG.map((c) => c.id).join(', ')}`);
  if (entry.kind === 'vae' || entry.dataset !== 'mnist') {
    throw new ProbeError('BAD_INPUT', `defend needs a 10-class MNIST classifier (the defenses are MNIST models); "${model}" is ${entry.kind === 'vae' ? 'a VAE' : `a ${entry.dataset} model`}`);
  }
  const attackId = flags.get('attack') ?? 'fgsm';
  const attack = CLASSIFIER_ATTACKS.find((a) => a.id === attackId);
  if (typeof attackId !== 'string' || !attack) {
    throw new ProbeError('BAD_INPUT', `--attack must be a classifier attack: ${CLASSIFIER_ATTACKS.map((a) => a.id).join(', ')}`);
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of flags) if (!COMMON_FLAGS.has(k)) raw[camel(k)] = v === true ? 'true' : v;
  const params = resolveParams(attack, raw, { coerce: true });
  const backend = flags.get('backend') ?? 'wasm';
  if (typeof backend !== 'string' || !(NODE_BACKENDS as readonly string[]).includes(backend)) throw new ProbeError('BAD_INPUT', `--backend must be one of ${NODE_BACKENDS.join(', ')}`);
  return {
    model, attack, params, n: intFlag(flags, 'n', 100, 1, 10000), batch: intFlag(flags, 'batch', 100, 1, 10000), backend: backend as NodeBackend,
  };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new ProbeError('MODEL_LOAD_FAILED', `cannot read ${path} (generate it with npm run calibrate): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** What `probe defend --json` prints. */
export interface DefendResult extends DefenseReport {
  readonly model: string;
  readonly attack: string;
  readonly params: ParamValues;
  readonly defenses: {
    readonly magnet: { readonly vae: string; readonly reformer: string; readonly metric: string; readonly threshold: number; readonly fpr: number };
    readonly gpdnn: { readonly model: string; readonly score: string; readonly threshold: number; readonly fpr: number };
    readonly ensemble: { readonly model: string; readonly members: number };
  };
  readonly backend: string;
  readonly seconds: number;
}

/** Runs `probe defend` with parsed options; `modelsDir` holds the shipped models and calibration files. */
export async function runDefend(opts: DefendOptions, modelsDir = MODELS_DIR): Promise<DefendResult> {
  const magnetFile = parseMagnetCalibrationFile(readJson(join(modelsDir, DEFENSE_MODELS.vae, MAGNET_FILE)));
  const gpFile = parseUncertaintyCalibrationFile(readJson(join(modelsDir, DEFENSE_MODELS.gpdnn, UNCERTAINTY_FILE)));
  const backend = await useNodeBackend(opts.backend);
  const test = loadMnist('test');
  const t0 = performance.now();
  const owned: { dispose(): void }[] = [];
  try {
    const classifier: Classifier = await loadShippedClassifier(opts.model, modelsDir);
    owned.push(classifier);
    let gp: Classifier = classifier;
    if (opts.model !== DEFENSE_MODELS.gpdnn) {
      gp = await loadShippedClassifier(DEFENSE_MODELS.gpdnn, modelsDir);
      owned.push(gp);
    }
    if (!isUncertain(gp)) throw new ProbeError('MODEL_LOAD_FAILED', `${DEFENSE_MODELS.gpdnn} reports no predictive uncertainty`);
    const vae: Vae = await loadShippedVae(DEFENSE_MODELS.vae, modelsDir);
    owned.push(vae);
    const ensemble = await loadEnsemble(DEFENSE_MODELS.ensemble, dirModelFiles(join(modelsDir, DEFENSE_MODELS.ensemble)));
    owned.push(ensemble);
    const report = await evaluateDefenses({
      classifier,
      magnet: magnet(vae, classifier, magnetCalibrationOf(magnetFile)),
      gpdnn: { model: gp as Uncertain, calibration: uncertaintyCalibrationOf(gpFile) },
      ensemble,
    }, test, { n: opts.n, batch: opts.batch, attack: { spec: opts.attack, params: opts.params } });
    return {
      model: opts.model, attack: opts.attack.id, params: opts.params, ...report,
      defenses: {
        magnet: { vae: DEFENSE_MODELS.vae, reformer: opts.model, metric: magnetFile.metric, threshold: magnetFile.threshold, fpr: magnetFile.fpr },
        gpdnn: { model: DEFENSE_MODELS.gpdnn, score: gpFile.score, threshold: gpFile.threshold, fpr: gpFile.fpr },
        ensemble: { model: DEFENSE_MODELS.ensemble, members: ensemble.members.length },
      },
      backend, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    for (const m of owned.reverse()) m.dispose();
  }
}

/** `probe defend` from its flags: parse, run, print one JSON line (--json) or indented JSON. */
export async function defendCommand(flags: ReadonlyMap<string, string | true>): Promise<DefendResult> {
  const r = await runDefend(defendOptions(flags));
  console.log(flags.has('json') ? JSON.stringify(r) : JSON.stringify(r, null, 2));
  return r;
}
