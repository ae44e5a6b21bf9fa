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

export interface FgsmParams {
  readonly eps: number;
  /** null: untargeted (move away from the predicted class); a class index: targeted. */
  readonly target: number | null;
}

export interface FgsmOutcome {
  readonly params: FgsmParams;
  /** adversarial − input, same layout as the input. */
  readonly perturbation: GrayImage;
  readonly adversarial: GrayImage;
  readonly prediction: Prediction;
  readonly success: boolean;
  readonly distances: Distances;
  readonly ms: number;
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
  readonly fgsm: FgsmOutcome;
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
