/**
 * The lab computations of the mock connector, in plain TS on the mock model (mock-model.ts): MagNet
 * with the mock "VAE" (mockReconstruct) as autoencoder, a "GP" that is the mock model's softmax with
 * Bernoulli variances, an ensemble of the mock model with five fixed logit offsets, the ε-sweep of the
 * linear mock model along sign(∇ₓJ) and transfer to a few mock models. Thresholds are mock fixtures.
 */
import type { CalibratedRate, DefenseReportView, DefenseSide, GrayImage, SweepView, TransferView } from '../protocol/types';
import { mockReconstruct } from './mock-attacks';
import { lossGradient, MOCK_CLASS_NAMES, mockLogits, mockPredict } from './mock-model';

/** Mock calibrations (fixtures of the mock, not measurements). */
export const MOCK_MAGNET: CalibratedRate = { threshold: 0.06, fpr: 0.01, cleanTestRate: 0.0116, cleanTestN: 10000, consistent: true };
export const MOCK_GP: CalibratedRate = { threshold: 0.18, fpr: 0.01, cleanTestRate: 0.0167, cleanTestN: 10000, consistent: false };
/** Logit offsets of the five mock ensemble members. */
const MEMBER_OFFSETS = [0, 0.6, -0.6, 1.2, -1.2];
/** The mock models of the transfer chart: [id, title, logit scale]. */
export const MOCK_TRANSFER_MODELS: readonly (readonly [string, string, number])[] = [
  ['mnist-mock', 'Mock template classifier', 1],
  ['mock-sharp', 'Mock, sharper', 2],
  ['mock-soft', 'Mock, softer', 0.5],
  ['mock-shifted', 'Mock, shifted input', 1],
];

function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const argMax = (v: readonly number[]): number => v.reduce((b, x, i) => (x > v[b] ? i : b), 0);

/** −Σ p log p in nats. */
export function entropyOf(p: readonly number[]): number {
  return -p.reduce((a, v) => a + (v > 1e-12 ? v * Math.log(v) : 0), 0);
}

/** The mock defenses on one image. */
export function mockDefenseSide(x: readonly number[]): DefenseSide {
  const r = mockReconstruct(x);
  const score = x.reduce((a, v, i) => a + Math.abs(v - r[i]), 0) / x.length;
  const probs = mockPredict(x).probs;
  const entropy = entropyOf(probs);
  const z = mockLogits(x);
  const votes = new Array<number>(MOCK_CLASS_NAMES.length).fill(0);
  MEMBER_OFFSETS.forEach((o, k) => votes[argMax(z.map((v, c) => v + (c === k ? o : 0)))]++);
  const majority = argMax(votes);
  return {
    magnet: { score, flagged: score > MOCK_MAGNET.threshold, reformed: mockPredict(r) },
    gp: { label: argMax(probs), probs, variance: probs.map((p) => p * (1 - p)), entropy, unsure: entropy > MOCK_GP.threshold },
    ensemble: { votes, majority, agreement: votes[majority] / MEMBER_OFFSETS.length, members: MEMBER_OFFSETS.length },
  };
}

/** The defenses report of the mock for a clean input and its adversarial. */
export function mockDefenses(resultId: string, modelId: string, attack: string, input: GrayImage, adversarial: GrayImage): DefenseReportView {
  return {
    resultId, modelId, attack,
    magnet: { vae: 'mock-vae', metric: 'l1', ...MOCK_MAGNET },
    gp: { model: 'mock-gp', ...MOCK_GP },
    ensemble: { model: 'mock-ensemble-5' },
    classNames: [...MOCK_CLASS_NAMES],
    clean: mockDefenseSide(input.pixels),
    adversarial: mockDefenseSide(adversarial.pixels),
    backend: 'mock', ms: 0,
  };
}

/** The ε-sweep of the linear mock model along sign(∇ₓJ(x, label)), unclipped, with a 7-image strip. */
export function mockSweep(resultId: string, modelId: string, input: GrayImage, maxEps: number, points: number): SweepView {
  const label = mockPredict(input.pixels).label;
  const dir = lossGradient(input.pixels, label).map(Math.sign);
  const half = (points - 1) / 2;
  const eps = Array.from({ length: points }, (_, i) => (i === half ? 0 : ((i - half) / half) * maxEps));
  const images = eps.map((e) => input.pixels.map((v, i) => v + e * dir[i]));
  const logits = images.map((x) => mockLogits(x));
  const predicted = logits.map(argMax);
  const picks = Array.from({ length: 7 }, (_, j) => Math.round((j * (points - 1)) / 6)).filter((v, j, a) => j === 0 || v !== a[j - 1]);
  return {
    resultId, modelId, classNames: [...MOCK_CLASS_NAMES], label, eps, logits, predicted,
    strip: picks.map((i) => ({ eps: eps[i], predicted: predicted[i], image: { width: input.width, height: input.height, pixels: images[i] } })),
    backend: 'mock', ms: 0,
  };
}

/** The adversarial fed to the mock transfer models: logits scaled (and, for one, the input shifted by a pixel). */
export function mockTransfer(resultId: string, modelId: string, attack: string, input: GrayImage, adversarial: GrayImage): TransferView {
  const shift = (x: readonly number[]): number[] => x.map((_, i) => (i % input.width === 0 ? 0 : x[i - 1]));
  const rows = MOCK_TRANSFER_MODELS.map(([id, title, scale]) => {
    const prep = id === 'mock-shifted' ? shift : (x: readonly number[]): readonly number[] => x;
    const clean = softmax(mockLogits(prep(input.pixels)).map((v) => v * scale));
    const adv = softmax(mockLogits(prep(adversarial.pixels)).map((v) => v * scale));
    const c = argMax(clean);
    const a = argMax(adv);
    return {
      modelId: id, title, cleanClass: MOCK_CLASS_NAMES[c], advClass: MOCK_CLASS_NAMES[a], advConfidence: adv[a], fooled: a !== c, source: id === modelId,
    };
  });
  return { resultId, modelId, attack, rows, backend: 'mock', ms: 0 };
}
