/**
 * The 'probe/adv-training' computation: the tab's image and attack against mnist-maxout and
 * mnist-maxout-adv, and against mnist-lr-3v7 and mnist-lr-3v7-adv when the image is classified as a
 * 3 or a 7; the weights w of mnist-lr-3v7 and its FGSM example on the image (src/core/lab/adv-training.ts).
 */
import { ADV_TRAINING_PAIRS, attackEach, logisticWeights, type AdvTrainingRun } from '../core/lab/adv-training';
import { ProbeError } from '../core/errors';
import { attackMeta } from '../core/attacks/specs';
import { catalogEntry } from '../core/models/catalog';
import type { Classifier } from '../core/models/types';
import { attackOne, classifyOne } from '../core/probe';
import type { AdvTrainingPair, AttackChoice, AdvTrainingSide, AdvTrainingView, ProbeResult } from '../protocol/types';

/** ε of the logistic regression's FGSM example when the tab's attack is not FGSM (Goodfellow et al. fig. 2: 0.25). */
export const LR_FGSM_EPS = 0.25;
/** Steps of the comparison's progress: four models (two without the 3-vs-7 pair), the weights and the FGSM example. */
export const ADV_TRAINING_STEPS = 6;

function side(run: AdvTrainingRun, model: Classifier): AdvTrainingSide {
  const p = run.outcome.prediction;
  return {
    modelId: run.modelId,
    title: catalogEntry(run.modelId)?.title ?? run.modelId,
    clean: { label: run.clean.label, className: run.clean.className, confidence: run.clean.probs[run.clean.label] },
    adversarial: { label: p.label, className: p.className ?? model.classNames[p.label], confidence: p.probs[p.label] },
    success: run.outcome.success,
    image: run.outcome.adversarial,
    linf: run.outcome.distances.linf,
    l2: run.outcome.distances.l2,
  };
}

/** Builds the comparison for `result` (input: its full-precision clean input); stops with CANCELLED when `signal` aborts. */
export async function buildAdvTrainingView(
  load: (id: string) => Promise<Classifier>,
  result: ProbeResult,
  input: Float32Array,
  backend: string,
  signal: AbortSignal,
  report: (done: number, phase: string) => void,
): Promise<AdvTrainingView> {
  const t0 = performance.now();
  const choice = result.attack.choice;
  const meta = attackMeta(choice.attack);
  if (!meta || meta.model !== 'classifier') {
    throw new ProbeError('BAD_INPUT', 'The adversarial-training comparison attacks classifiers: run FGSM, BIM, JSMA, CW-L2 or L-BFGS first (not a VAE attack).');
  }
  if (input.length !== 28 * 28 || catalogEntry(result.modelId)?.dataset === 'fashion-mnist') {
    throw new ProbeError('BAD_INPUT', 'The adversarially trained models are MNIST models: pick an MNIST model and run an attack first.');
  }
  const stop = (): void => {
    if (signal.aborted) throw new ProbeError('CANCELLED', 'The adversarial-training comparison was cancelled.');
  };
  // The tab's target, mapped by class name; one the pair lacks is dropped (untargeted, or the runner-up for targeted-only attacks).
  const targetName = choice.target === null ? null : (result.classNames[choice.target] ?? null);
  const choiceFor = (m: Classifier): AttackChoice => {
    const t = targetName === null ? -1 : m.classNames.indexOf(targetName);
    return { ...choice, target: t >= 0 ? t : null };
  };
  const maxout = await Promise.all(ADV_TRAINING_PAIRS.maxout.map(load));
  stop();
  report(0, `attacking ${ADV_TRAINING_PAIRS.maxout.join(' and ')}`);
  const mRuns = await attackEach(maxout, input, choiceFor(maxout[0]), signal);
  report(2, 'mnist-lr-3v7');
  const lrModels = await Promise.all(ADV_TRAINING_PAIRS.lr.map(load));
  stop();
  const [lrBase] = lrModels;
  const clean = await classifyOne(lrBase, input);
  const tabClass = result.prediction.className;
  let lr: AdvTrainingPair | null = null;
  let lrNote: string | null = null;
  if (tabClass === '3' || tabClass === '7') {
    const lrRuns = await attackEach(lrModels, input, choiceFor(lrBase), signal);
    lr = { base: side(lrRuns[0], lrModels[0]), trained: side(lrRuns[1], lrModels[1]) };
  } else {
    lrNote = `The 3-vs-7 models only know 3 and 7; ${result.modelId} reads this image as ${tabClass}.`;
  }
  stop();
  report(4, 'the weights of mnist-lr-3v7');
  const w = await logisticWeights(lrBase);
  const eps = choice.attack === 'fgsm' && typeof choice.params.eps === 'number' ? choice.params.eps : LR_FGSM_EPS;
  const fg = await attackOne(lrBase, input, clean, { attack: 'fgsm', params: { eps, norm: 'inf' }, target: null }, { signal });
  report(ADV_TRAINING_STEPS, 'done');
  const [h, wd] = lrBase.inputShape;
  return {
    resultId: result.id,
    attack: choice.attack,
    params: choice.params,
    maxout: { base: side(mRuns[0], maxout[0]), trained: side(mRuns[1], maxout[1]) },
    lr,
    lrNote,
    lrWeights: { width: wd, height: h, values: Array.from(w, (v) => Math.round(v * 1e6) / 1e6) },
    lrFgsm: { eps, image: fg.adversarial, clean: clean.className, adversarial: fg.prediction.className, confidence: fg.prediction.probs[fg.prediction.label] },
    backend,
    ms: performance.now() - t0,
  };
}
