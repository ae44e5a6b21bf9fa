/**
 * The export and adversarial-training computations of the mock connector, in plain TS on the mock
 * model (mock-model.ts): the adversarial rounded to 8 bits (nearest, then away from the original) and
 * re-classified, encoded with the real PNG encoder; the "adversarially trained twin" is the mock
 * model with its logits damped (a mock fixture, not a trained model), and the "3-vs-7 weights" are the
 * mock model's w₇ − w₃.
 */
import { encodePng8 } from '../core/lab/png';
import { bytesToBase64 } from '../protocol/base64';
import { ProbeError } from '../core/errors';
import type { UserModelSource } from '../core/lab/user-source';
import type { AdvTrainingSide, AdvTrainingView, AttackChoice, ClassScore, ExportView, GrayImage, ProbeResult, UserModelView } from '../protocol/types';
import { mockAttack } from './mock-attacks';
import { MOCK_CLASS_NAMES, mockLogits, mockPredict, mockWeights } from './mock-model';

const level = (v: number): number => Math.min(255, Math.max(0, v * 255));

/** The mock's export of a result: 8-bit rounding that keeps the attack if nearest or away rounding does. */
export function mockExport(r: ProbeResult): ExportView {
  const x = r.input.pixels;
  const adv = r.attack.adversarial.pixels;
  const targeted = r.attack.choice.target !== null;
  const goal = { label: targeted ? r.attack.choice.target! : r.prediction.label, targeted };
  const holds = (p: number): boolean => (goal.targeted ? p === goal.label : p !== goal.label);
  const nearest = Uint8Array.from(adv, (v) => Math.round(level(v)));
  const away = Uint8Array.from(adv, (v, i) => (v > x[i] ? Math.ceil(level(v) - 1e-6) : v < x[i] ? Math.floor(level(v) + 1e-6) : Math.round(level(v))));
  const judge = (q: Uint8Array): ReturnType<typeof mockPredict> => mockPredict(Array.from(q, (v) => v / 255));
  const pn = judge(nearest);
  const pa = judge(away);
  const [levels, method, p] = holds(pn.label) ? [nearest, 'nearest' as const, pn] : holds(pa.label) ? [away, 'away' as const, pa] : [nearest, 'failed' as const, pn];
  let linf = 0;
  let l2 = 0;
  levels.forEach((q, i) => {
    const d = Math.abs(q / 255 - x[i]);
    linf = Math.max(linf, d);
    l2 += d * d;
  });
  return {
    resultId: r.id, modelId: r.modelId, attack: r.attack.choice.attack, width: r.input.width, height: r.input.height, channels: 1,
    pngBase64: bytesToBase64(encodePng8(levels, r.input.width, r.input.height, 1)),
    method, steps: 0, goal, maxLinf: null, success: holds(p.label), predicted: p.label, predictedClass: p.className, confidence: p.probs[p.label],
    linf, l2: Math.sqrt(l2), backend: 'mock', ms: 0,
  };
}

/** The damped mock twin's prediction (logits × 0.3). */
function dampedPredict(x: readonly number[]): { label: number; probs: number[] } {
  const z = mockLogits(x).map((v) => v * 0.3);
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  const probs = e.map((v) => v / s);
  return { label: probs.indexOf(Math.max(...probs)), probs };
}

function side(modelId: string, title: string, input: GrayImage, choice: AttackChoice, damped: boolean): AdvTrainingSide {
  const out = mockAttack(input, choice);
  const c = damped ? dampedPredict(input.pixels) : mockPredict(input.pixels);
  const a = damped ? dampedPredict(out.adversarial.pixels) : out.prediction;
  const success = choice.target !== null ? a.label === choice.target : a.label !== c.label;
  return {
    modelId, title,
    clean: { label: c.label, className: MOCK_CLASS_NAMES[c.label], confidence: c.probs[c.label] },
    adversarial: { label: a.label, className: MOCK_CLASS_NAMES[a.label], confidence: a.probs[a.label] },
    success, image: out.adversarial, linf: out.distances.linf, l2: out.distances.l2,
  };
}

/** The mock's adversarial-training comparison for a result. */
export function mockAdvTraining(r: ProbeResult): AdvTrainingView {
  const choice = r.attack.choice;
  const cls = r.prediction.className;
  const w = mockWeights();
  const eps = typeof choice.params.eps === 'number' ? choice.params.eps : 0.25;
  const fg = mockAttack(r.input, { attack: 'fgsm', params: { eps, norm: 'inf' }, target: null });
  return {
    resultId: r.id, attack: choice.attack, params: choice.params,
    maxout: { base: side('mock-maxout', 'Mock maxout', r.input, choice, false), trained: side('mock-maxout-adv', 'Mock maxout, damped', r.input, choice, true) },
    lr: cls === '3' || cls === '7' ? { base: side('mock-lr', 'Mock LR', r.input, choice, false), trained: side('mock-lr-adv', 'Mock LR, damped', r.input, choice, true) } : null,
    lrNote: cls === '3' || cls === '7' ? null : `The 3-vs-7 models only know 3 and 7; ${r.modelId} reads this image as ${cls}.`,
    lrWeights: { width: r.input.width, height: r.input.height, values: w[7].map((v, i) => v - w[3][i]) },
    lrFgsm: { eps, image: fg.adversarial, clean: r.prediction.className, adversarial: fg.prediction.className, confidence: fg.prediction.probs[fg.prediction.label] },
    backend: 'mock', ms: 0,
  };
}

/**
 * The mock's user model: a URL model is "loaded" as the mock template classifier when its description
 * fits it (28×28×1, 10 classes: the real loader's checks), else BAD_INPUT saying what differs; the mock
 * downloads nothing, so MobileNet fails with MODEL_LOAD_FAILED after consent.
 */
export function mockUserModel(r: ProbeResult, source: UserModelSource): UserModelView {
  if (source.kind === 'mobilenet') throw new ProbeError('MODEL_LOAD_FAILED', 'The mock connector downloads nothing: MobileNet v2 is not available here.');
  const { spec } = source;
  const url = source.kind === 'files' ? source.name : source.url;
  if (spec.inputShape[0] !== 28 || spec.inputShape[1] !== 28 || spec.inputShape[2] !== 1) {
    throw new ProbeError('BAD_INPUT', `The model takes [null,28,28,1], not [batch, ${spec.inputShape.join(', ')}] as described.`);
  }
  if (spec.classNames.length !== MOCK_CLASS_NAMES.length) throw new ProbeError('BAD_INPUT', `The model gives 1×${MOCK_CLASS_NAMES.length} scores, not one per class (${spec.classNames.length}).`);
  const scored = (probs: readonly number[]): ClassScore[] =>
    probs.map((prob, label) => ({ label, className: spec.classNames[label], prob })).sort((a, b) => b.prob - a.prob).slice(0, 5);
  const out = r.attack;
  const toLevels = (px: readonly number[]): Uint8Array => Uint8Array.from(px, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  return {
    resultId: r.id, modelId: spec.id, source: source.kind, url, fullResolution: false, inputShape: spec.inputShape, inputRange: spec.inputRange, classes: spec.classNames.length,
    preprocess: 'MNIST-style centring to 28×28 (mock)', clean: scored(r.prediction.probs), adversarial: scored(out.prediction.probs),
    attack: out.choice.attack, params: out.choice.params, target: out.choice.target, success: out.success, distances: out.distances,
    inputPngBase64: bytesToBase64(encodePng8(toLevels(r.input.pixels), 28, 28, 1)),
    adversarialPngBase64: bytesToBase64(encodePng8(toLevels(out.adversarial.pixels), 28, 28, 1)),
    backend: 'mock', ms: 0,
  };
}

/**
 * The mock's full-resolution export: the mock model takes 28×28 grey digits by MNIST-style centring,
 * which has no full-resolution form, so it answers as the background does for such a model.
 */
export function mockUserExport(source: UserModelSource): never {
  if (source.kind === 'mobilenet') throw new ProbeError('NO_RESULT', 'Run this model on the current image first (Load and attack), then export.');
  throw new ProbeError('BAD_INPUT', 'Full-resolution export is for photo models (RGB, or a plain resize); this model takes the image by MNIST-style centring, so export at model resolution.');
}
