/**
 * An in-memory Connector for tests and for working on the popup without the extension.
 * It draws a synthetic 28×28 digit, classifies it with a tiny template-matching linear
 * model and runs FGSM on it in plain JS (no tfjs): the numbers are plausible, not MNIST's.
 */
import { ProbeError, type ErrorInfo } from '../core/errors';
import type {
  FgsmOutcome,
  FgsmParams,
  GrayImage,
  ModelInfo,
  Prediction,
  ProbeResult,
  ProbeState,
  ProbeStatus,
} from '../protocol/types';
import type { Connector } from './connector';

export const MOCK_SIDE = 28;
export const MOCK_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const MOCK_MODEL_ID = 'mnist-mock';
const L0_TOLERANCE = 1e-6;

export type MockCall =
  | { readonly method: 'getState' }
  | { readonly method: 'runFgsm'; readonly params: FgsmParams & { readonly modelId: string } }
  | { readonly method: 'listModels' };

export interface MockConnectorOptions {
  /** What getState reports at first (default 'done'). */
  readonly status?: ProbeStatus;
  /**
   * With status 'running': how many getState calls report 'running' before the probe is
   * done. Default: it never finishes.
   */
  readonly runningPolls?: number;
  /** The error of status 'error' (default CROSS_ORIGIN_BLOCKED). */
  readonly error?: ErrorInfo;
  /** The digit drawn (0–9, default 7). */
  readonly digit?: number;
  /** Initial FGSM parameters (default ε 0.1, untargeted). */
  readonly eps?: number;
  readonly target?: number | null;
  readonly backend?: string;
  readonly modelId?: string;
  readonly tabId?: number | null;
  readonly srcUrl?: string;
  readonly pageUrl?: string;
  readonly inverted?: boolean;
  /** Delay of every call, in ms (default 0: answers on the next microtask). */
  readonly latencyMs?: number;
  /** Values to throw instead of answering, per method. */
  readonly throws?: { readonly getState?: unknown; readonly runFgsm?: unknown; readonly listModels?: unknown };
}

export interface MockConnector extends Connector {
  /** Every call, in order. */
  readonly calls: MockCall[];
  /** The last state returned (by getState or runFgsm); null before the first. */
  lastState(): ProbeState | null;
  /** The finished state as it is now (no call is recorded). */
  doneState(): ProbeState;
}

// ---------------------------------------------------------------------------------------
// Synthetic digits: strokes (polylines in 28×28 pixel coordinates) rasterised with soft edges.

type Pt = readonly [number, number];

function ellipse(cx: number, cy: number, rx: number, ry: number, from = 0, to = 2 * Math.PI, n = 28): Pt[] {
  const pts: Pt[] = [];
  for (let i = 0; i <= n; i++) {
    const a = from + ((to - from) * i) / n;
    pts.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return pts;
}

const STROKES: readonly (readonly Pt[])[][] = [
  /* 0 */ [ellipse(14, 14, 5.5, 8.5)],
  /* 1 */ [[[11, 8], [14.5, 5]], [[14.5, 5], [14, 23]]],
  /* 2 */ [[[9, 9], [11, 6], [14, 5], [17.5, 6], [19, 9], [18, 12.5], [9, 22], [20, 22]]],
  /* 3 */ [[[9, 6], [14, 5], [18, 7], [18, 10.5], [14, 13], [18, 15.5], [18.5, 20], [14, 23], [9, 22]], [[12, 13], [14, 13]]],
  /* 4 */ [[[15, 5], [8, 17], [21, 17]], [[16, 9], [16, 23]]],
  /* 5 */ [[[19, 5], [10.5, 5], [9.5, 13], [14, 12], [18, 14], [19, 18], [17, 22], [13, 23], [9, 21]]],
  /* 6 */ [[[17, 5], [12, 9], [9, 15], [9, 19], [12, 23], [16, 23], [19, 19], [18, 15], [14, 13], [10, 15]]],
  /* 7 */ [[[8, 6], [20, 6], [13, 23]]],
  /* 8 */ [ellipse(14, 9.5, 4, 4.5), ellipse(14, 18, 5, 5)],
  /* 9 */ [ellipse(14, 10, 4.5, 4.5), [[18.5, 10], [17, 23]]],
];

function segDist(px: number, py: number, a: Pt, b: Pt): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  const x = a[0] + t * dx - px;
  const y = a[1] + t * dy - py;
  return Math.sqrt(x * x + y * y);
}

/** A synthetic MNIST-like digit: white strokes on black, values in [0,1]. */
export function syntheticDigit(digit: number, radius = 1.3, shift: Pt = [0, 0]): GrayImage {
  const strokes = STROKES[((Math.round(digit) % 10) + 10) % 10];
  const pixels: number[] = new Array<number>(MOCK_SIDE * MOCK_SIDE).fill(0);
  for (let y = 0; y < MOCK_SIDE; y++) {
    for (let x = 0; x < MOCK_SIDE; x++) {
      const px = x + 0.5 - shift[0];
      const py = y + 0.5 - shift[1];
      let d = Infinity;
      for (const line of strokes) {
        for (let i = 1; i < line.length; i++) d = Math.min(d, segDist(px, py, line[i - 1], line[i]));
      }
      pixels[y * MOCK_SIDE + x] = Math.max(0, Math.min(1, radius + 0.5 - d));
    }
  }
  return { width: MOCK_SIDE, height: MOCK_SIDE, pixels };
}

// ---------------------------------------------------------------------------------------
// The model: logits_c = SCALE · (w_c · x), w_c = a normalised, blurred template minus the mean.

const SCALE = 3.5;

function buildWeights(): number[][] {
  const n = MOCK_SIDE * MOCK_SIDE;
  const templates = MOCK_CLASS_NAMES.map((_, c) => {
    const t = syntheticDigit(c, 2.2).pixels;
    const norm = Math.sqrt(t.reduce((s, v) => s + v * v, 0)) || 1;
    return t.map((v) => v / norm);
  });
  const mean = new Array<number>(n).fill(0);
  for (const t of templates) for (let i = 0; i < n; i++) mean[i] += t[i] / templates.length;
  return templates.map((t) => t.map((v, i) => v - mean[i]));
}

let weights: number[][] | null = null;
function W(): number[][] {
  weights ??= buildWeights();
  return weights;
}

function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The mock model's prediction for a 28×28 image. */
export function mockPredict(x: readonly number[]): Prediction {
  const logits = W().map((w) => SCALE * w.reduce((s, wi, i) => s + wi * (x[i] ?? 0), 0));
  const probs = softmax(logits);
  let label = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[label]) label = c;
  return { label, className: MOCK_CLASS_NAMES[label], probs };
}

/** ∂(cross-entropy against `cls`)/∂x for the linear model: SCALE · Σ_c (p_c − [c = cls]) w_c. */
function lossGradient(x: readonly number[], cls: number): number[] {
  const { probs } = mockPredict(x);
  const w = W();
  const g = new Array<number>(x.length).fill(0);
  for (let c = 0; c < w.length; c++) {
    const coef = SCALE * (probs[c] - (c === cls ? 1 : 0));
    if (coef === 0) continue;
    for (let i = 0; i < g.length; i++) g[i] += coef * w[c][i];
  }
  return g;
}

/** FGSM on the mock model: one signed-gradient step of size ε, clipped to [0,1]. */
export function mockFgsm(input: GrayImage, params: FgsmParams): FgsmOutcome {
  const t0 = now();
  const x = input.pixels;
  const clean = mockPredict(x);
  const targeted = params.target !== null;
  // Untargeted: climb the loss of the predicted class. Targeted: descend the target's loss.
  const grad = lossGradient(x, targeted ? (params.target ?? 0) : clean.label);
  const dir = targeted ? -1 : 1;
  const adv = x.map((v, i) => Math.max(0, Math.min(1, v + dir * params.eps * Math.sign(grad[i]))));
  const pert = adv.map((v, i) => v - x[i]);
  const prediction = mockPredict(adv);
  let l0 = 0;
  let sq = 0;
  let linf = 0;
  for (const d of pert) {
    const a = Math.abs(d);
    if (a > L0_TOLERANCE) l0++;
    sq += d * d;
    if (a > linf) linf = a;
  }
  const success = targeted ? prediction.label === params.target : prediction.label !== clean.label;
  return {
    params: { eps: params.eps, target: params.target },
    perturbation: { width: input.width, height: input.height, pixels: pert },
    adversarial: { width: input.width, height: input.height, pixels: adv },
    prediction,
    success,
    distances: { l0, l2: Math.sqrt(sq), linf },
    ms: Math.max(0.1, now() - t0),
  };
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

// ---------------------------------------------------------------------------------------

const STAGES = ['capturing', 'classifying', 'attacking'] as const;

/** A Connector backed by in-memory state. See MockConnectorOptions. */
export function createMockConnector(opts: MockConnectorOptions = {}): MockConnector {
  const calls: MockCall[] = [];
  const tabId = opts.tabId === undefined ? 1 : opts.tabId;
  const backend = opts.backend ?? 'webgpu';
  const modelId = opts.modelId ?? MOCK_MODEL_ID;
  const digit = opts.digit ?? 7;
  const latency = opts.latencyMs ?? 0;
  let status: ProbeStatus = opts.status ?? 'done';
  let polls = 0;
  let last: ProbeState | null = null;

  // Slightly thinner and shifted compared with the templates, so the match is not perfect.
  const input = syntheticDigit(digit, 1.1, [0.6, -0.4]);
  const createdAt = Date.now();
  let fgsm = mockFgsm(input, { eps: opts.eps ?? 0.1, target: opts.target ?? null });
  let runs = 0;

  function result(): ProbeResult {
    return {
      id: `mock-probe-${digit}`,
      source: {
        srcUrl: opts.srcUrl ?? 'https://example.com/digits/seven.png',
        pageUrl: opts.pageUrl ?? 'https://example.com/digits/',
        naturalWidth: 280,
        naturalHeight: 280,
        capturedBy: 'page',
      },
      modelId,
      classNames: [...MOCK_CLASS_NAMES],
      backend,
      preprocess: { mode: 'mnist', inverted: opts.inverted ?? false },
      input,
      prediction: mockPredict(input.pixels),
      fgsm,
      createdAt,
    };
  }

  function base(): Pick<ProbeState, 'tabId' | 'backend' | 'modelId' | 'job'> {
    return { tabId, backend, modelId, job: calls.length };
  }

  function done(): ProbeState {
    return { ...base(), status: 'done', result: result(), error: null, stage: null };
  }

  function current(): ProbeState {
    switch (status) {
      case 'done':
        return done();
      case 'running': {
        const stage = STAGES[Math.min(polls, STAGES.length - 1)];
        return { ...base(), status: 'running', result: null, error: null, stage };
      }
      case 'error':
        return {
          ...base(),
          status: 'error',
          result: null,
          error: opts.error ?? { code: 'CROSS_ORIGIN_BLOCKED', message: 'The page does not allow reading this image.' },
          stage: null,
        };
      default:
        return { ...base(), backend: null, status: 'idle', result: null, error: null, stage: null };
    }
  }

  async function answer<T>(method: 'getState' | 'runFgsm' | 'listModels', make: () => T): Promise<T> {
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    else await Promise.resolve();
    const thrown = opts.throws?.[method];
    if (thrown !== undefined) throw thrown;
    return make();
  }

  function remember(s: ProbeState): ProbeState {
    last = s;
    return s;
  }

  return {
    calls,
    lastState: () => last,
    doneState: done,
    getState() {
      calls.push({ method: 'getState' });
      return answer('getState', () => {
        const s = current();
        if (status === 'running') {
          polls++;
          if (opts.runningPolls !== undefined && polls >= opts.runningPolls) status = 'done';
        }
        return remember(s);
      });
    },
    runFgsm(params) {
      calls.push({ method: 'runFgsm', params: { eps: params.eps, target: params.target, modelId: params.modelId } });
      return answer('runFgsm', () => {
        if (status !== 'done') {
          return remember({
            ...current(),
            status: 'error',
            result: null,
            stage: null,
            error: { code: 'NO_RESULT', message: 'Nothing has been probed in this tab yet.' },
          });
        }
        if (!Number.isFinite(params.eps) || params.eps < 0 || params.eps > 1) {
          throw new ProbeError('BAD_MESSAGE', 'eps must be a number in [0, 1]');
        }
        if (params.modelId !== modelId) throw new ProbeError('MODEL_NOT_FOUND', `No model "${params.modelId}".`);
        runs++;
        fgsm = mockFgsm(input, { eps: params.eps, target: params.target });
        return remember(done());
      });
    },
    listModels() {
      calls.push({ method: 'listModels' });
      return answer(
        'listModels',
        (): ModelInfo[] => [{ id: modelId, title: 'Mock template classifier', dataset: 'mnist', testAccuracy: null }],
      );
    },
  };
}
