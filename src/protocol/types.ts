import type { ErrorInfo } from '../core/errors';

/** A grayscale image as the model sees it: values in [0,1], row-major, width*height long. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: number[];
}

export interface Prediction {
  readonly label: number;
  readonly className: string;
  /** Softmax probabilities for every class, in class order. */
  readonly probs: number[];
}

export interface Distances {
  readonly l0: number;
  readonly l2: number;
  readonly linf: number;
}

/** Attack parameter values by key (validated against the attack's spec in src/core/attacks/specs.ts). */
export type AttackParamValues = Readonly<Record<string, number | string | boolean>>;

/** Which attack to run, with what parameters, towards which class. */
export interface AttackChoice {
  /** An attack id of the registry (fgsm, bim, jsma, cw-l2, lbfgs, vae-classifier, vae-latent, vae-loss). */
  readonly attack: string;
  readonly params: AttackParamValues;
  /** null: untargeted (move away from the predicted class; targeted-only attacks take the runner-up class); a class index: targeted. */
  readonly target: number | null;
}

/** Live progress of an iterative attack. */
export interface JobProgress {
  readonly done: number;
  readonly total: number;
  readonly phase: string | null;
  readonly info: Readonly<Record<string, number>> | null;
}

/** One entry of an attack's trace (CW-L2 and L-BFGS: one per constant of the search). */
export interface TracePoint {
  readonly step: number;
  readonly info: Readonly<Record<string, number>>;
}

/** Kos et al.'s view of a VAE attack: what the VAE makes of the clean and the adversarial input. */
export interface VaeOutcome {
  /** The target-class example whose latent code / pixels the attack aims at. */
  readonly targetExample: GrayImage;
  /** decode(encode(x)) of the clean input and the latent classifier's label for it. */
  readonly reconstruction: GrayImage;
  readonly reconstructionPrediction: Prediction;
  /** decode(encode(x*)) of the adversarial input and ŷ = f_class(f_enc(x̂*)) (the success criterion). */
  readonly advReconstruction: GrayImage;
  readonly advReconstructionPrediction: Prediction;
}

export interface AttackOutcome {
  /** What was run, with every parameter resolved (defaults filled in) and the target actually used. */
  readonly choice: AttackChoice;
  /** adversarial − input, same layout as the input. */
  readonly perturbation: GrayImage;
  readonly adversarial: GrayImage;
  /** The attacked classifier's prediction on the adversarial input (VAE attacks: the latent classifier's). */
  readonly prediction: Prediction;
  /** Untargeted: the prediction changed; targeted: it is the target; VAE attacks: the reconstruction's label is the target. */
  readonly success: boolean;
  readonly distances: Distances;
  readonly ms: number;
  readonly trace: readonly TracePoint[];
  readonly vae: VaeOutcome | null;
}

export interface ImageSource {
  readonly srcUrl: string;
  readonly pageUrl: string;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  /** 'page': read from the page's own canvas; 'extension': fetched and decoded by the service worker. */
  readonly capturedBy: 'page' | 'extension';
}

export interface ProbeResult {
  readonly id: string;
  readonly source: ImageSource;
  readonly modelId: string;
  readonly classNames: string[];
  readonly backend: string;
  readonly preprocess: { readonly mode: 'mnist' | 'resize'; readonly inverted: boolean };
  readonly input: GrayImage;
  readonly prediction: Prediction;
  readonly attack: AttackOutcome;
  readonly createdAt: number;
}

export type ProbeStatus = 'idle' | 'running' | 'done' | 'error';

export interface ProbeState {
  readonly status: ProbeStatus;
  /** Number of the job this state belongs to; grows with every probe or re-run in this browser session. */
  readonly job: number;
  readonly tabId: number | null;
  readonly backend: string | null;
  readonly modelId: string;
  readonly result: ProbeResult | null;
  readonly error: ErrorInfo | null;
  /** Human-readable stage while running ("capturing", "classifying", "attacking"). */
  readonly stage: string | null;
  /** Progress of the running attack, when it is iterative. */
  readonly progress: JobProgress | null;
}

export interface ModelInfo {
  readonly id: string;
  readonly title: string;
  readonly dataset: string;
  readonly testAccuracy: number | null;
}

/** Raw RGBA pixels of a captured page image. Sent as base64 (runtime messages are JSON). */
export interface CapturedImage {
  readonly width: number;
  readonly height: number;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly rgbaBase64: string;
}

export type CaptureResponse =
  | { readonly ok: true; readonly image: CapturedImage }
  | { readonly ok: false; readonly error: ErrorInfo };
