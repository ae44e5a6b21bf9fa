/**
 * The 'probe/user-model' computation: a model the user brings (a tfjs LayersModel or GraphModel by
 * URL with the user's description, or MobileNet v2 from its public address after the user agreed to
 * MOBILENET_V2.note), validated with validateUserModelSpec, loaded with loadUserClassifier, then the
 * tab's page image preprocessed for it and the tab's attack run on it. Loaded models are kept (the
 * last two) so a second run does not download again; the browser's HTTP cache keeps the files.
 * The service worker fetches with the extension's existing host access: no new permission.
 */
import { attackMeta } from '../core/attacks/specs';
import { ProbeError } from '../core/errors';
import type { RgbaImage } from '../core/image/preprocess';
import { encodePng8, encodePng8Compressed } from '../core/lab/png';
import { exportGoal } from '../core/lab/export';
import { exportFullResolution, fullResolutionSupported } from '../core/lab/export-full';
import type { QuantizeGoal } from '../core/image/quantize';
import { filesHandler } from '../core/models/user-files';
import { getModelFiles } from '../protocol/model-files';
import { displayLevels, userModelInput } from '../core/lab/user-input';
import type { UserModelSource } from '../core/lab/user-source';
import type { Classifier } from '../core/models/types';
import { loadUserClassifier, MOBILENET_V2, parseImageNetLabels, validateUserModelSpec, type UserModelSpec } from '../core/models/user-model';
import { attackOne, classifyOne } from '../core/probe';
import { onModelsDropped } from './engine';
import { bytesToBase64 } from '../protocol/base64';
import type { AttackChoice, ClassScore, FullExportView, Prediction, ProbeResult, UserModelView } from '../protocol/types';

/** How the background loads a user model and fetches a text file (the extension: loadUserClassifier and fetch; tests: fakes). */
export interface UserModelLoader {
  load(spec: UserModelSpec, url: string): Promise<Classifier>;
  /** A model from the files the user picked, stored under `key` (src/protocol/model-files.ts). */
  loadFiles?(spec: UserModelSpec, key: string): Promise<Classifier>;
  fetchText(url: string): Promise<string>;
}

/** The cache address of a stored file set (never fetched: cachedUserModel sends it to loader.loadFiles). */
const FILES_PREFIX = 'stored-files:';

/** The address loadGraphModel uses for a tfhub model (what its fromTFHub option appends). */
export const MOBILENET_MODEL_JSON = `${MOBILENET_V2.modelUrl}/model.json?tfjs-format=file`;
const KEEP = 2;
const cache = new Map<string, Promise<Classifier>>();

/** Loads (or reuses) the model; keeps the last KEEP, disposing older ones; a failed load is not kept. */
export function cachedUserModel(loader: UserModelLoader, spec: UserModelSpec, url: string): Promise<Classifier> {
  const key = `${url}\n${JSON.stringify(spec)}`;
  let p = cache.get(key);
  if (p) {
    cache.delete(key);
    cache.set(key, p);
    return p;
  }
  if (url.startsWith(FILES_PREFIX)) {
    if (!loader.loadFiles) return Promise.reject(new ProbeError('BAD_INPUT', 'Models from files are not available here: load the model by URL.'));
    p = loader.loadFiles(spec, url.slice(FILES_PREFIX.length));
  } else {
    p = loader.load(spec, url);
  }
  cache.set(key, p);
  p.catch(() => {
    if (cache.get(key) === p) cache.delete(key);
  });
  while (cache.size > KEEP) {
    const [oldKey, old] = cache.entries().next().value as [string, Promise<Classifier>];
    cache.delete(oldKey);
    old.then((m) => m.dispose(), () => undefined);
  }
  return p;
}

/** Forgets (and disposes) every kept user model. */
export function clearUserModels(): void {
  for (const p of cache.values()) p.then((m) => m.dispose(), () => undefined);
  cache.clear();
}

// User models loaded on a lost GPU are gone with it: drop them after a GPU reset (reloaded on the next run).
onModelsDropped(() => clearUserModels());

/** The k most probable classes of a prediction, named. */
function top(p: Prediction, names: readonly string[], k = 5): ClassScore[] {
  return p.probs
    .map((prob, label) => ({ label, className: names[label] ?? String(label), prob }))
    .sort((a, b) => b.prob - a.prob)
    .slice(0, k);
}

/** The description and address of `source` (MobileNet: its class list fetched first). */
export async function resolveSource(source: UserModelSource, loader: UserModelLoader): Promise<{ spec: UserModelSpec; url: string }> {
  if (source.kind === 'mobilenet') {
    let text: string;
    try {
      text = await loader.fetchText(MOBILENET_V2.labelsUrl);
    } catch (e) {
      throw new ProbeError('MODEL_LOAD_FAILED', `The ImageNet class list did not load: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { spec: MOBILENET_V2.spec(parseImageNetLabels(text)), url: MOBILENET_MODEL_JSON };
  }
  if (source.kind === 'files') return { spec: validateUserModelSpec(source.spec), url: `${FILES_PREFIX}${source.key}` };
  return { spec: validateUserModelSpec(source.spec), url: source.url };
}

/** What the full-resolution export needs of a user-model run: its adversarial and the goal it must keep. */
export interface UserModelRun {
  /** The source, as JSON: an export names the same source. */
  readonly sourceKey: string;
  readonly resultId: string;
  readonly spec: UserModelSpec;
  readonly url: string;
  readonly attack: string;
  readonly adversarial: Float32Array;
  readonly goal: QuantizeGoal;
  readonly maxLinf: number | null;
}

/** The identity of a source for UserModelRun.sourceKey. */
export const sourceKey = (source: UserModelSource): string => JSON.stringify(source);

/** Runs `result`'s attack on the page image with the user's model; CANCELLED when `signal` aborts. */
export async function buildUserModelView(
  loader: UserModelLoader,
  source: UserModelSource,
  result: ProbeResult,
  image: RgbaImage,
  backend: string,
  signal: AbortSignal,
  report: (done: number, phase: string) => void,
  keep?: (run: UserModelRun) => void,
): Promise<UserModelView> {
  const t0 = performance.now();
  const stop = (): void => {
    if (signal.aborted) throw new ProbeError('CANCELLED', 'Cancelled.');
  };
  const meta = attackMeta(result.attack.choice.attack);
  if (!meta || meta.model !== 'classifier') throw new ProbeError('BAD_INPUT', 'Your model can be attacked with FGSM, BIM, JSMA, CW-L2 or L-BFGS: pick one of those first (not a VAE attack).');
  report(0, source.kind === 'mobilenet' ? 'loading MobileNet v2 (about 14 MB the first time)' : 'loading the model');
  const { spec, url } = await resolveSource(source, loader);
  stop();
  const model = await cachedUserModel(loader, spec, url);
  stop();
  report(1, 'classifying');
  const { pixels, how } = userModelInput(image, spec);
  const clean = await classifyOne(model, pixels);
  stop();
  const c = result.attack.choice;
  const targetName = c.target === null ? null : (result.classNames[c.target] ?? null);
  const t = targetName === null ? -1 : spec.classNames.indexOf(targetName);
  const choice: AttackChoice = { attack: c.attack, params: c.params, target: t >= 0 ? t : null };
  report(2, `attacking (${c.attack})`);
  const out = await attackOne(model, pixels, clean, choice, { signal, onProgress: (p) => report(2, `attacking (${c.attack}) ${p.done}/${p.total}`) });
  const [h, w, ch] = spec.inputShape;
  const { goal, maxLinf } = exportGoal(out.choice, clean.label);
  keep?.({ sourceKey: sourceKey(source), resultId: result.id, spec, url, attack: out.choice.attack, adversarial: Float32Array.from(out.adversarial.pixels), goal, maxLinf });
  report(4, 'done');
  return {
    resultId: result.id,
    modelId: spec.id,
    source: source.kind,
    url: source.kind === 'files' ? source.name : url,
    fullResolution: fullResolutionSupported(spec),
    inputShape: spec.inputShape,
    inputRange: spec.inputRange,
    classes: spec.classNames.length,
    preprocess: how,
    clean: top(clean, spec.classNames),
    adversarial: top(out.prediction, spec.classNames),
    attack: out.choice.attack,
    params: out.choice.params,
    target: out.choice.target,
    success: out.success,
    distances: out.distances,
    inputPngBase64: bytesToBase64(encodePng8(displayLevels(pixels, spec), w, h, ch as 1 | 3)),
    adversarialPngBase64: bytesToBase64(encodePng8(displayLevels(out.adversarial.pixels, spec), w, h, ch as 1 | 3)),
    backend,
    ms: performance.now() - t0,
  };
}

/**
 * The full-resolution export of a user-model run: `image` is the page image captured again at up to
 * MAX_EXPORT_CAPTURE_SIDE; the run's adversarial is carried to it by exportFullResolution (upsampled,
 * back-projected through the model's own preprocessing, re-classified) and encoded as a compressed PNG.
 */
export async function buildUserExportView(
  loader: UserModelLoader,
  run: UserModelRun,
  image: RgbaImage,
  natural: { width: number; height: number },
  backend: string,
  signal: AbortSignal,
  report: (done: number, phase: string) => void,
): Promise<FullExportView> {
  const t0 = performance.now();
  report(1, 'loading the model');
  const model = await cachedUserModel(loader, run.spec, run.url);
  if (signal.aborted) throw new ProbeError('CANCELLED', 'The export was cancelled.');
  report(2, `carrying the perturbation to ${image.width}×${image.height} and re-classifying`);
  const ex = await exportFullResolution(model, run.spec, image, run.adversarial, run.goal, { signal, ...(run.maxLinf === null ? {} : { maxLinf: run.maxLinf }) });
  report(3, 'encoding the PNG');
  const png = await encodePng8Compressed(ex.rgb, ex.width, ex.height, 3);
  return {
    resultId: run.resultId,
    modelId: run.spec.id,
    attack: run.attack,
    width: ex.width,
    height: ex.height,
    naturalWidth: natural.width,
    naturalHeight: natural.height,
    scaledDown: natural.width > ex.width || natural.height > ex.height,
    pngBase64: bytesToBase64(png),
    method: ex.method,
    iterations: ex.iterations,
    goal: { label: run.goal.label, targeted: run.goal.targeted },
    maxLinf: run.maxLinf,
    success: ex.success,
    predicted: ex.predicted,
    predictedClass: run.spec.classNames[ex.predicted] ?? String(ex.predicted),
    confidence: ex.confidence,
    linf: ex.linf,
    inputL2: ex.inputL2,
    inputLinf: ex.inputLinf,
    backend,
    ms: performance.now() - t0,
  };
}

/** The extension's loader: the backend chosen first (`ready`), then loadUserClassifier on the URL (or the stored files); text by fetch without cookies. */
export function fetchUserModelLoader(ready: () => Promise<unknown>): UserModelLoader {
  return {
    async load(spec, url) {
      await ready();
      return loadUserClassifier(spec, url);
    },
    async loadFiles(spec, key) {
      const files = await getModelFiles(key);
      if (!files) throw new ProbeError('BAD_INPUT', 'The model files are no longer stored (other files were picked since, or the browser cleared them): pick them again.');
      await ready();
      return loadUserClassifier(spec, filesHandler(files));
    },
    async fetchText(url) {
      const r = await fetch(url, { credentials: 'omit' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.text();
    },
  };
}
