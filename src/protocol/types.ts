import type { ErrorInfo } from '../core/errors';

/** The TensorFlow.js backends the background can run on, in its order of preference. */
export const BACKEND_NAMES = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function isBackendName(v: unknown): v is BackendName {
  return typeof v === 'string' && (BACKEND_NAMES as readonly string[]).includes(v);
}

/** The background's compute backend: the one in use, the one asked for by name (null: chosen by measurement), and why the others are not used. */
export interface BackendView {
  readonly backend: BackendName;
  readonly preference: BackendName | null;
  /** Backends tried before the one in use, each with its reason (a software renderer, slower than wasm by measurement, 16-bit floats, absent…). */
  readonly notUsed: readonly { readonly backend: BackendName; readonly reason: string }[];
  /** Where a hardware GPU backend and wasm were both timed: ms per one-image attack step on each. */
  readonly measured: readonly { readonly backend: BackendName; readonly msPerStep: number }[];
}

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
  /**
   * 'page': read from the page's own canvas; 'extension': fetched and decoded by the service worker; 'screen':
   * cropped from a screenshot of the visible tab (as displayed: its rendered size, anything drawn over it included).
   */
  readonly capturedBy: 'page' | 'extension' | 'screen';
  /** An animated image (GIF, APNG, animated WebP) of which only the first frame was analysed (known when the extension decoded the file). */
  readonly firstFrameOnly?: boolean;
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
  /** With error NO_ACCESS: the host-permission patterns to ask the user for (e.g. "https://cdn.example.com/*"). */
  readonly needsAccess?: readonly string[];
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

/** Browse mode: whether badges are on for a tab's site (origin null: the tab shows no http(s) page). */
export interface BrowseSite {
  readonly origin: string | null;
  readonly enabled: boolean;
}

/** Browse mode: one image's badge (top class and confidence of the chosen model, the GPDNN's unsure flag). */
export interface BadgeView {
  readonly modelId: string;
  readonly label: number;
  readonly className: string;
  /** Softmax probability of the top class, in [0, 1]. */
  readonly confidence: number;
  /** The GPDNN's predictive entropy above its calibrated threshold; null where the model is not an MNIST-digit model (no GPDNN verdict). */
  readonly unsure: boolean | null;
  readonly backend: string;
  /** Time in the service worker for this badge (preprocess, classify, GPDNN). */
  readonly ms: number;
}

/**
 * Where a picture the page would not hand over is shown, in the frame's viewport (CSS px), for the last resort of
 * the acquisition chain: cropping it from a screenshot of the visible tab (activeTab). Sent by the content script
 * with a failed capture of a found, loaded image.
 */
export interface ScreenBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** window.devicePixelRatio (zoom included): screenshot pixels per CSS px. */
  readonly dpr: number;
  readonly viewportWidth: number;
  readonly viewportHeight: number;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}

export type CaptureResponse =
  | { readonly ok: true; readonly image: CapturedImage }
  | { readonly ok: false; readonly error: ErrorInfo; readonly box?: ScreenBox };

/** A calibrated flag's stated false-positive rate beside the rate measured on clean test images (from the calibration JSON). */
export interface CalibratedRate {
  readonly threshold: number;
  /** The stated rate the threshold was calibrated for on validation images. */
  readonly fpr: number;
  /** Fraction of clean test images flagged, and how many were tested. */
  readonly cleanTestRate: number;
  readonly cleanTestN: number;
  /** Does the clean test rate bear out the stated rate (exact binomial test of the file)? */
  readonly consistent: boolean;
}

/** What the defenses make of one image (the defenses panel: one column each for clean and adversarial). */
export interface DefenseSide {
  /** MagNet: reconstruction error, flagged (> threshold), and the reformer's prediction on the reconstruction. */
  readonly magnet: { readonly score: number; readonly flagged: boolean; readonly reformed: Prediction };
  /** GPDNN: predictive mean and Var[f] per class, entropy (nats), unsure (> threshold). */
  readonly gp: { readonly label: number; readonly probs: number[]; readonly variance: number[]; readonly entropy: number; readonly unsure: boolean };
  /** Ensemble: votes per class, majority, agreement = votes[majority]/members. */
  readonly ensemble: { readonly votes: number[]; readonly majority: number; readonly agreement: number; readonly members: number };
}

/** The defenses on the tab's current image and its current adversarial. */
export interface DefenseReportView {
  readonly resultId: string;
  /** The tab's model: MagNet's reformer. */
  readonly modelId: string;
  /** The attack that made the adversarial. */
  readonly attack: string;
  readonly magnet: { readonly vae: string; readonly metric: string } & CalibratedRate;
  readonly gp: { readonly model: string } & CalibratedRate;
  readonly ensemble: { readonly model: string };
  /** Class names of the GPDNN and the ensemble (MNIST digits). */
  readonly classNames: string[];
  readonly clean: DefenseSide;
  readonly adversarial: DefenseSide;
  readonly backend: string;
  readonly ms: number;
}

/** Goodfellow et al. fig. 4: the tab's model's logits along sign(∇ₓJ) for ε in [−max, max]. */
export interface SweepView {
  readonly resultId: string;
  readonly modelId: string;
  readonly classNames: string[];
  /** The original prediction (the "correct" class of the chart). */
  readonly label: number;
  readonly eps: number[];
  readonly logits: number[][];
  readonly predicted: number[];
  /** Images along the sweep (unclipped values; drawn clamped), with their ε. */
  readonly strip: { readonly eps: number; readonly predicted: number; readonly image: GrayImage }[];
  readonly backend: string;
  readonly ms: number;
}

/** One shipped MNIST classifier's verdict on the current adversarial. */
export interface TransferRowView {
  readonly modelId: string;
  readonly title: string;
  readonly cleanClass: string;
  readonly advClass: string;
  readonly advConfidence: number;
  readonly fooled: boolean;
  /** The model the adversarial was crafted on. */
  readonly source: boolean;
}

/** The current adversarial fed to every shipped MNIST classifier. */
export interface TransferView {
  readonly resultId: string;
  readonly modelId: string;
  readonly attack: string;
  readonly rows: TransferRowView[];
  readonly backend: string;
  readonly ms: number;
}

/** Which lab computation a 'probe/lab' request runs. */
export type LabKind = 'defenses' | 'sweep' | 'transfer' | 'export' | 'adversarial-training' | 'user-model' | 'user-export' | 'saliency';

/**
 * Papernot et al.'s saliency map S(X, t) of the tab's clean image toward `target` (θ = +1, logits; single
 * features: ∂Z_t/∂X_i · |Σ_{c≠t} ∂Z_c/∂X_i| where ∂Z_t/∂X_i > 0 and Σ_{c≠t} ∂Z_c/∂X_i < 0, else 0), and the
 * adversarial distance A(X, t) toward every other class.
 */
export interface SaliencyView {
  readonly resultId: string;
  readonly modelId: string;
  readonly classNames: string[];
  /** The model's prediction on X (the source class). */
  readonly label: number;
  readonly target: number;
  readonly width: number;
  readonly height: number;
  /** S(X, target) per input feature (row-major, channels last), ≥ 0. */
  readonly map: number[];
  /** Features with S > 0 (so A(X, target) = 1 − positive / map.length). */
  readonly positive: number;
  /** A(X, t) for every class t other than `label`, in class order. */
  readonly distances: { readonly target: number; readonly distance: number }[];
  readonly backend: string;
  readonly ms: number;
}

/** Progress of the tab's running lab computation (null fields: none running). */
export interface LabProgress {
  readonly kind: LabKind | null;
  readonly done: number;
  readonly total: number;
  readonly phase: string | null;
}

/** Health of the background for tests and support (reliability checklist): backend, live tensors and memory, job queue. */
export interface DiagnosticsView {
  /** The TensorFlow.js backend the background chose. */
  readonly backend: string;
  /** tf.memory(): live tensors and their bytes (model weights included: compare against a baseline taken when idle). */
  readonly numTensors: number;
  readonly numBytes: number;
  /** Memory the backend holds beyond tensors: the wasm heap, or GPU bytes on webgl; null where the backend does not say. */
  readonly backendBytes: number | null;
  /** The service worker's JS heap (performance.memory), null where the browser does not expose it. */
  readonly jsHeapBytes: number | null;
  /** Jobs waiting or running in the FIFO queue, jobs finished, and probes skipped because a newer probe of the same tab replaced them. */
  readonly queued: number;
  readonly jobsDone: number;
  readonly jobsMerged: number;
  /** The newest job number (grows across service-worker restarts). */
  readonly lastJob: number;
  /** When this service worker instance started (ms since the epoch): changes after a restart. */
  readonly startedAt: number;
  /** WebGPU device loss (checklist row 23): 'healthy' (none), 'lost' (no fallback selected yet) or 'fallen-back' (jobs run on `backend`). */
  readonly gpuStatus: 'healthy' | 'lost' | 'fallen-back';
  /** GPU device losses this service worker has seen. */
  readonly gpuLosses: number;
}

/** How the adversarial was rounded to 8 bits for export (src/core/image/quantize.ts). */
export type ExportMethod = 'nearest' | 'away' | 'search' | 'failed';

/** An exported adversarial re-classified from its bytes: does it still do what the attack did? */
export interface ReclassifiedExport {
  readonly resultId: string;
  readonly modelId: string;
  readonly attack: string;
  /** What the bytes must still do: be classified as `label` (targeted) or as anything else. */
  readonly goal: { readonly label: number; readonly targeted: boolean };
  /** L∞ budget of the attack (a fixed-ε L∞ attack's ε) that the export keeps to, or null. */
  readonly maxLinf: number | null;
  /** Whether the re-classified exported bytes still meet the goal. */
  readonly success: boolean;
  /** The model's prediction on the exported bytes. */
  readonly predicted: number;
  readonly predictedClass: string;
  readonly confidence: number;
}

/** The current adversarial as an 8-bit PNG at model resolution, with what the model makes of the exported bytes. */
export interface ExportView extends ReclassifiedExport {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** The PNG file, base64. */
  readonly pngBase64: string;
  readonly method: ExportMethod;
  /** Gradient steps of the rounding search. */
  readonly steps: number;
  /** Distortion of the exported bytes from the original (input units). */
  readonly linf: number;
  readonly l2: number;
  readonly backend: string;
  readonly ms: number;
}

/** How the full-resolution export kept the attack (src/core/lab/export-full.ts). */
export type FullExportMethod = 'upsampled' | 'back-projected' | 'amplified' | 'failed';

/** A user model's adversarial exported at the page image's resolution, re-classified through the model's own preprocessing. */
export interface FullExportView extends ReclassifiedExport {
  /** The PNG's size: the page image's, or scaled down to fit MAX_EXPORT_CAPTURE_SIDE (then `scaledDown`). */
  readonly width: number;
  readonly height: number;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly scaledDown: boolean;
  /** The RGB PNG file, base64. */
  readonly pngBase64: string;
  readonly method: FullExportMethod;
  readonly iterations: number;
  /** Largest change of a pixel value of the full-resolution image, in [0, 1] (1/255 per level). */
  readonly linf: number;
  /** Distortion of the model input made from the exported bytes (model units). */
  readonly inputL2: number;
  readonly inputLinf: number;
  readonly backend: string;
  readonly ms: number;
}

/** One model of the adversarial-training comparison: the same image and attack, crafted on this model. */
export interface AdvTrainingSide {
  readonly modelId: string;
  readonly title: string;
  readonly clean: { readonly label: number; readonly className: string; readonly confidence: number };
  readonly adversarial: { readonly label: number; readonly className: string; readonly confidence: number };
  /** The attack's own success criterion on this model. */
  readonly success: boolean;
  readonly image: GrayImage;
  readonly linf: number;
  readonly l2: number;
}

/** A model and its adversarially trained twin. */
export interface AdvTrainingPair {
  readonly base: AdvTrainingSide;
  readonly trained: AdvTrainingSide;
}

/** Adversarial training side by side (Goodfellow et al.): the tab's image and attack against each model of a pair. */
export interface AdvTrainingView {
  readonly resultId: string;
  readonly attack: string;
  readonly params: AttackParamValues;
  readonly maxout: AdvTrainingPair;
  /** mnist-lr-3v7 vs its adversarially trained twin: only for an image classified as 3 or 7 (null otherwise, with the reason). */
  readonly lr: AdvTrainingPair | null;
  readonly lrNote: string | null;
  /** The weights w of mnist-lr-3v7 (28×28, raw values), its FGSM example on the image and the ε used. */
  readonly lrWeights: { readonly width: number; readonly height: number; readonly values: number[] };
  readonly lrFgsm: { readonly eps: number; readonly image: GrayImage; readonly clean: string; readonly adversarial: string; readonly confidence: number };
  readonly backend: string;
  readonly ms: number;
}

/** A class and its softmax probability. */
export interface ClassScore {
  readonly label: number;
  readonly className: string;
  readonly prob: number;
}

/** The tab's image and attack on a model the user brought (a URL with a description, or MobileNet v2). */
export interface UserModelView {
  readonly resultId: string;
  readonly modelId: string;
  readonly source: 'url' | 'mobilenet' | 'files';
  /** The model's address (for files: their names). */
  readonly url: string;
  /** The model takes the page image by a plain resize (a photo model): 'probe/user-export' can export at full resolution. */
  readonly fullResolution: boolean;
  readonly inputShape: readonly [number, number, number];
  readonly inputRange: { readonly min: number; readonly max: number };
  readonly classes: number;
  /** How the page image became the model's input. */
  readonly preprocess: string;
  /** Top classes (at most 5) on the clean input and on the adversarial. */
  readonly clean: ClassScore[];
  readonly adversarial: ClassScore[];
  readonly attack: string;
  readonly params: AttackParamValues;
  readonly target: number | null;
  readonly success: boolean;
  readonly distances: Distances;
  /** What the model sees, clean and adversarial, as PNG (base64) at its input size. */
  readonly inputPngBase64: string;
  readonly adversarialPngBase64: string;
  readonly backend: string;
  readonly ms: number;
}
