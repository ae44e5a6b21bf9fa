import { ProbeError, toErrorInfo } from '../core/errors';
import { AccessError } from './access';
import { preprocess, type RgbaImage } from '../core/image/preprocess';
import { catalogEntry, DEFAULT_MODEL_ID } from '../core/models/catalog';
import type { Classifier } from '../core/models/types';
import { attackOne, classifyOne, grayImage, type VaeContext } from '../core/probe';
import { magnetCalibrationOf, uncertaintyCalibrationOf, type MagnetCalibrationFile, type UncertaintyCalibrationFile } from '../core/defenses/calibration';
import type { Ensemble } from '../core/defenses/ensemble';
import { magnet } from '../core/defenses/magnet';
import { defendImages, type DefenseSideData } from '../core/lab/defense-pair';
import { logitSweep } from '../core/lab/sweep';
import { transferAll } from '../core/lab/transfer';
import { ADV_TRAINING_STEPS, buildAdvTrainingView } from './adv-training';
import { buildExportView } from './export';
import { buildSaliencyView, SALIENCY_STEPS } from './saliency';
import type { SaliencyView } from '../protocol/types';
import { buildUserExportView, buildUserModelView, sourceKey, type UserModelLoader, type UserModelRun } from './user-models';
import { fullResolutionSupported } from '../core/lab/export-full';
import { MAX_EXPORT_CAPTURE_SIDE } from '../protocol/messages';
import type { UserModelSource } from '../core/lab/user-source';
import type { FullExportView, UserModelView } from '../protocol/types';
import type { AdvTrainingView, ExportView } from '../protocol/types';
import { classifierEntries } from '../core/models/catalog';
import type { Uncertain, Vae } from '../core/models/types';
import { nonFiniteField, recoverInterrupted } from './jobs-recovery';
import type {
  AttackChoice, CalibratedRate, DefenseReportView, DefenseSide, ImageSource, JobProgress, LabKind, LabProgress, ProbeResult, ProbeState, SweepView, TransferView,
} from '../protocol/types';

export const DEFAULT_EPS = 0.25;
/** What a right-click runs: untargeted FGSM at the paper's ε. */
export const DEFAULT_CHOICE: AttackChoice = { attack: 'fgsm', params: { eps: DEFAULT_EPS }, target: null };
/** Progress is written to the state (and storage.session) at most this often. */
export const PROGRESS_EVERY_MS = 100;

/**
 * How often (ms) a running attack yields to the event loop so that a Cancel message can arrive (checklist row 30).
 * The attacks yield through a MessageChannel task, which Chromium's service worker runs ahead of extension
 * messages: with the default 30 ms a message waited ~300 ms during a CW run, with 5 ms ~60 ms (measured in
 * headless Chromium 156 on wasm; tests/e2e/reliability.test.ts prints the cancel latency).
 */
export const ATTACK_YIELD_MS = 5;

/** Images along the ε-sweep returned with the chart. */
export const SWEEP_STRIP = 7;

/** The defenses' models and calibration files (models/mnist-vae/magnet.json, models/mnist-gpdnn/uncertainty.json). */
export interface DefenseAssets {
  readonly vae: Vae;
  readonly gpdnn: Uncertain;
  readonly ensemble: Ensemble;
  readonly magnetFile: MagnetCalibrationFile;
  readonly uncertaintyFile: UncertaintyCalibrationFile;
}

/** The shipped MNIST-style classifiers the transfer chart feeds the adversarial to (28×28 digits, any class set). */
export function transferModelIds(): string[] {
  return classifierEntries().filter((e) => e.preprocess === 'mnist' && e.dataset !== 'fashion-mnist').map((e) => e.id);
}

function calibratedRate(f: MagnetCalibrationFile | UncertaintyCalibrationFile): CalibratedRate {
  return { threshold: f.threshold, fpr: f.fpr, cleanTestRate: f.cleanTestCheck.flagged / f.cleanTestCheck.n, cleanTestN: f.cleanTestCheck.n, consistent: f.cleanTestCheck.consistent };
}

/** What the service needs from the browser; the extension passes chrome-backed functions, tests pass fakes. */
/** A right-click's probe: the tab and frame, the image's address, the page (and the frame's page when in an iframe). */
export interface ProbeRequest {
  readonly tabId: number;
  readonly frameId: number;
  readonly srcUrl: string;
  readonly pageUrl: string;
  /** The address of the frame the image is in, when the browser said (context-menu info.frameUrl). */
  readonly frameUrl?: string;
}

export interface ServiceDeps {
  /** Pixels of the clicked image: from the page if it can, else fetched by the extension. */
  capture(req: ProbeRequest & { maxSide?: number }): Promise<{ image: RgbaImage; source: ImageSource }>;
  model(id: string): Promise<Classifier>;
  /** The VAE, its latent classifier and one example per class, for Kos et al.'s attacks. */
  vae?(): Promise<VaeContext>;
  /** MagNet's VAE, the GPDNN, the ensemble and their calibration files, for the defenses panel. */
  defenses?(): Promise<DefenseAssets>;
  backend(): Promise<string>;
  /** Mirror of the state for a popup opened after the service worker restarted. */
  persist(tabId: number, state: ProbeState): void;
  now(): number;
  /** Work was queued (the worker keeps itself alive while the queue is not empty: keep-alive.ts). */
  onEnqueue?(): void;
}

interface TabEntry {
  state: ProbeState;
  /** Full-precision model input of the current result, for re-runs. */
  input: Float32Array | null;
  /** The captured page pixels (memory only, never persisted), to preprocess again for another model. */
  image?: RgbaImage | null;
}

/**
 * Probe jobs per tab: capture → preprocess → classify → attack (FGSM on a right-click, any registered attack on request). Jobs run one at a time
 * (FIFO) so two tabs never fight over the GPU; each result goes to its own tab.
 */
export class ProbeService {
  private readonly tabs = new Map<number, TabEntry>();
  /** The frame each tab's image was probed in (memory only), to capture it again for a full-resolution export. */
  private readonly frames = new Map<number, number>();
  /** Each tab's last right-click request, for 'probe/retry' (memory only: addresses, no pixels). */
  private readonly requests = new Map<number, ProbeRequest>();
  /** Each tab's last run on a user model (memory only), for its full-resolution export. */
  private readonly userRuns = new Map<number, UserModelRun>();
  private lastTab: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  /** Queue counters for 'probe/diagnostics': jobs waiting or running, finished, and skipped because a newer probe of the same tab replaced them. */
  private readonly counts = { queued: 0, done: 0, merged: 0 };
  /** Each tab's running or queued lab computation (defenses, ε-sweep, transfer) and its progress. */
  private readonly labJobs = new Map<number, { ctl: AbortController; progress: LabProgress }>();
  /** The AbortController of each tab's running or queued attack job. */
  private readonly jobs = new Map<number, { job: number; ctl: AbortController; previous: ProbeResult | null }>();

  constructor(private readonly deps: ServiceDeps) {}

  private set(tabId: number, patch: Partial<ProbeState>, input?: Float32Array | null, image?: RgbaImage | null): ProbeState {
    const prev = this.tabs.get(tabId);
    const state: ProbeState = { ...(prev?.state ?? idleState(tabId)), ...patch, tabId };
    this.tabs.set(tabId, {
      state,
      input: input === undefined ? (prev?.input ?? null) : input,
      image: image === undefined ? (prev?.image ?? null) : image,
    });
    this.deps.persist(tabId, state);
    return state;
  }

  /** Restore a persisted state (after a service-worker restart): a job that was running or queued is closed with a "run it again" notice (jobs-recovery.ts). */
  restore(tabId: number, state: ProbeState): void {
    this.seq = Math.max(this.seq, state.job);
    if (this.tabs.has(tabId)) return;
    const input = state.result ? Float32Array.from(state.result.input.pixels) : null;
    const recovered = recoverInterrupted(state);
    this.tabs.set(tabId, { state: recovered, input });
    if (recovered !== state) this.deps.persist(tabId, recovered);
    if (this.lastTab === null) this.lastTab = tabId;
  }

  /** Queue counters and the last job number, for 'probe/diagnostics'. */
  queueStats(): { queued: number; done: number; merged: number; lastJob: number } {
    return { ...this.counts, lastJob: this.seq };
  }

  getState(tabId: number | null): ProbeState {
    const id = tabId ?? this.lastTab;
    if (id !== null) {
      const e = this.tabs.get(id) ?? (tabId === null ? undefined : this.tabs.get(this.lastTab ?? -1));
      if (e) return e.state;
    }
    return idleState(tabId);
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.counts.queued++;
    this.deps.onEnqueue?.();
    const run = this.queue.then(job, job).finally(() => {
      this.counts.queued--;
      this.counts.done++;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `task` alone: after every job queued before it, and before any queued after it (a backend switch must not
   * pull the models from under a running attack). Counted as queued while it waits and runs (browse-mode badges
   * hold back, the worker keeps itself alive), not as a job done.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.counts.queued++;
    this.deps.onEnqueue?.();
    const run = this.queue.then(task, task).finally(() => {
      this.counts.queued--;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The context-menu path: probe the image at srcUrl in tab/frame with the default FGSM. */
  probeImage(req: ProbeRequest & { modelId?: string }): Promise<ProbeState> {
    const modelId = req.modelId ?? this.tabs.get(req.tabId)?.state.modelId ?? DEFAULT_MODEL_ID;
    this.lastTab = req.tabId;
    const jobId = ++this.seq;
    // A new image: the previous result is not shown while this one runs, and the tab's running attack stops.
    this.jobs.get(req.tabId)?.ctl.abort();
    this.set(req.tabId, { status: 'running', job: jobId, stage: 'capturing the image', error: null, result: null, modelId, progress: null, needsAccess: undefined }, null, null);
    this.frames.set(req.tabId, req.frameId);
    this.requests.set(req.tabId, { tabId: req.tabId, frameId: req.frameId, srcUrl: req.srcUrl, pageUrl: req.pageUrl, frameUrl: req.frameUrl });
    this.userRuns.delete(req.tabId);
    return this.enqueue(async () => {
      // A newer probe of this tab was queued behind this one: its result would replace this one unseen, so skip it (merged).
      const now = this.tabs.get(req.tabId)?.state;
      if (now && now.job !== jobId) {
        this.counts.merged++;
        return now;
      }
      try {
        const { image, source } = await this.deps.capture(req);
        if (this.tabs.get(req.tabId)?.state.job !== jobId) return this.getState(req.tabId);
        this.set(req.tabId, { stage: 'classifying' }, undefined, image);
        return await this.analyse(req.tabId, jobId, modelId, image, source, DEFAULT_CHOICE);
      } catch (e) {
        const current = this.tabs.get(req.tabId)?.state;
        if (current && current.job !== jobId) return current;
        // NO_ACCESS names the host patterns the popup may ask the user for.
        const needsAccess = e instanceof AccessError ? [...e.origins] : undefined;
        return this.set(req.tabId, { status: 'error', stage: null, progress: null, error: toErrorInfo(e), needsAccess });
      }
    });
  }

  /** Tabs whose last probe ended with NO_ACCESS, and the host patterns each asked for. */
  waitingForAccess(): { tabId: number; origins: readonly string[] }[] {
    const out: { tabId: number; origins: readonly string[] }[] = [];
    for (const [tabId, e] of this.tabs) {
      const st = e.state;
      if (st.status === 'error' && st.error?.code === 'NO_ACCESS' && st.needsAccess && st.needsAccess.length > 0 && this.requests.has(tabId)) {
        out.push({ tabId, origins: st.needsAccess });
      }
    }
    return out;
  }

  /** Probe the tab's last right-clicked image again (after the user allowed the extension on its site). */
  retry(tabId: number | null): Promise<ProbeState> {
    const id = tabId ?? this.lastTab;
    const req = id === null ? undefined : this.requests.get(id);
    if (!req) return Promise.reject(new ProbeError('NO_RESULT', 'Nothing to probe again in this tab: right-click an image and choose “Probe this image”.'));
    return this.probeImage(req);
  }

  /** Run an attack (and maybe another model) on the tab's current image. Cancellable with `cancel`. */
  rerunAttack(tabId: number | null, modelId: string, choice: AttackChoice): Promise<ProbeState> {
    const id = tabId ?? this.lastTab;
    const entry = id === null ? undefined : this.tabs.get(id);
    if (id === null || !entry?.state.result || !entry.input) {
      return Promise.reject(new ProbeError('NO_RESULT', 'Probe an image first: right-click it and choose “Probe this image”.'));
    }
    const prev = entry.state.result;
    const next = catalogEntry(modelId);
    if (!next) return Promise.reject(new ProbeError('MODEL_NOT_FOUND', `No model called "${modelId}" is shipped.`));
    // Same preprocessing: reuse the exact input. Otherwise preprocess the kept page pixels again;
    // those live in memory only, so after a service-worker restart the image must be probed again.
    const reuse = next.preprocess === prev.preprocess.mode;
    const image = entry.image ?? null;
    if (!reuse && !image) {
      return Promise.reject(new ProbeError('NO_RESULT', 'The extension restarted since this image was probed: right-click it and probe it again.'));
    }
    const input = entry.input;
    const jobId = ++this.seq;
    // A newer request for this tab replaces a queued or running one.
    this.jobs.get(id)?.ctl.abort();
    const ctl = new AbortController();
    this.jobs.set(id, { job: jobId, ctl, previous: prev });
    this.set(id, { status: 'running', job: jobId, stage: 'queued', error: null, modelId, progress: null });
    return this.enqueue(async () => {
      try {
        if (ctl.signal.aborted) throw new ProbeError('CANCELLED', 'The attack was cancelled.');
        return reuse
          ? await this.analyse(id, jobId, modelId, null, prev.source, choice, input, prev.preprocess, ctl.signal)
          : await this.analyse(id, jobId, modelId, image, prev.source, choice, undefined, undefined, ctl.signal);
      } catch (e) {
        const info = toErrorInfo(e);
        const current = this.tabs.get(id)?.state;
        // A newer job of this tab owns the state now: leave it alone.
        if (current && current.job !== jobId) return current;
        if (info.code === 'CANCELLED') {
          return this.set(id, { status: 'done', stage: null, progress: null, result: prev, modelId: prev.modelId, error: info });
        }
        return this.set(id, { status: 'error', stage: null, progress: null, error: info });
      } finally {
        if (this.jobs.get(id)?.job === jobId) this.jobs.delete(id);
      }
    });
  }

  /** Cancel the tab's running or queued attack: the previous result comes back with a CANCELLED notice. */
  cancel(tabId: number | null): ProbeState {
    const id = tabId ?? this.lastTab;
    if (id === null) return idleState(null);
    this.jobs.get(id)?.ctl.abort();
    return this.getState(id);
  }

  private async analyse(
    tabId: number,
    jobId: number,
    modelId: string,
    image: RgbaImage | null,
    source: ImageSource,
    choice: AttackChoice,
    knownInput?: Float32Array,
    knownPre?: ProbeResult['preprocess'],
    signal?: AbortSignal,
  ): Promise<ProbeState> {
    const entry = catalogEntry(modelId);
    if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${modelId}" is shipped.`);
    if (choice.attack.startsWith('vae-') && entry.dataset !== 'mnist') {
      throw new ProbeError('BAD_INPUT', 'The VAE attacks (Kos et al.) work on MNIST digits: pick an MNIST model first.');
    }
    const [model, backend] = await Promise.all([this.deps.model(modelId), this.deps.backend()]);
    let input: Float32Array;
    let pre: ProbeResult['preprocess'];
    if (image) {
      const [h] = model.inputShape;
      const p = preprocess(image, { mode: entry.preprocess, size: h });
      input = p.pixels;
      pre = { mode: p.mode, inverted: p.inverted };
    } else {
      input = knownInput!;
      pre = knownPre!;
    }
    const [h, w] = model.inputShape;
    const prediction = await classifyOne(model, input);
    // Only the tab's newest job writes its state (a superseded one must not show its result as the newer job's).
    const mine = (): boolean => this.tabs.get(tabId)?.state.job === jobId;
    if (mine()) this.set(tabId, { stage: `attacking (${choice.attack})`, backend });
    const vae = choice.attack.startsWith('vae-') ? await this.vaeContext() : undefined;
    let lastProgress = 0;
    const onProgress = (p: { done: number; total: number; phase?: string; info?: Readonly<Record<string, number>> }): void => {
      const t = this.deps.now();
      if (t - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = t;
      const progress: JobProgress = { done: p.done, total: p.total, phase: p.phase ?? null, info: p.info ? { ...p.info } : null };
      if (this.tabs.get(tabId)?.state.job === jobId) this.set(tabId, { progress });
    };
    const attack = await attackOne(model, input, prediction, choice, { signal, onProgress, yieldEveryMs: ATTACK_YIELD_MS }, vae);
    const result: ProbeResult = {
      id: `${jobId}`,
      source,
      modelId,
      classNames: [...model.classNames],
      backend,
      preprocess: pre,
      input: grayImage(input, w, h),
      prediction,
      attack,
      createdAt: this.deps.now(),
    };
    // Checklist row 25: NaN or ±∞ anywhere (an overflowing loss, a broken backend) stops the job with a message; never shown as an image.
    const bad = nonFiniteField(result);
    if (bad !== null) {
      throw new ProbeError('INTERNAL', `The ${choice.attack} attack produced a non-finite number (${bad}); nothing is shown. Try smaller parameters (c, learning rate) or another image.`);
    }
    if (!mine()) return this.tabs.get(tabId)?.state ?? idleState(tabId);
    return this.set(tabId, { status: 'done', stage: null, progress: null, result, error: null, backend, modelId }, input);
  }

  private async vaeContext(): Promise<VaeContext> {
    if (!this.deps.vae) throw new ProbeError('MODEL_NOT_FOUND', 'The VAE models are not available in this build.');
    return this.deps.vae();
  }

  /** Progress of the tab's running or queued lab computation (kind null: none). */
  labProgress(tabId: number | null): LabProgress {
    const id = tabId ?? this.lastTab;
    return (id !== null ? this.labJobs.get(id)?.progress : undefined) ?? { kind: null, done: 0, total: 0, phase: null };
  }

  /** Cancel the tab's lab computation: its request fails with CANCELLED. */
  cancelLab(tabId: number | null): LabProgress {
    const id = tabId ?? this.lastTab;
    const job = id !== null ? this.labJobs.get(id) : undefined;
    job?.ctl.abort();
    return job ? { ...job.progress, phase: 'cancelling' } : this.labProgress(id);
  }

  /** The tab's current result and its full-precision input, or NO_RESULT. */
  private current(tabId: number | null): { id: number; result: ProbeResult; input: Float32Array } {
    const id = tabId ?? this.lastTab;
    const entry = id === null ? undefined : this.tabs.get(id);
    if (id === null || !entry?.state.result || !entry.input) {
      throw new ProbeError('NO_RESULT', 'Probe an image first: right-click it and choose “Probe this image”.');
    }
    return { id, result: entry.state.result, input: entry.input };
  }

  /** Queue a lab computation for a tab (replacing its previous one); `work` reports progress and checks the signal. */
  private runLab<T>(tabId: number | null, kind: LabKind, total: number, work: (c: { id: number; result: ProbeResult; input: Float32Array }, signal: AbortSignal, report: (done: number, phase: string) => void) => Promise<T>): Promise<T> {
    let cur: { id: number; result: ProbeResult; input: Float32Array };
    try {
      cur = this.current(tabId);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = cur.id;
    this.labJobs.get(id)?.ctl.abort();
    const ctl = new AbortController();
    const job = { ctl, progress: { kind, done: 0, total, phase: 'queued' } as LabProgress };
    this.labJobs.set(id, job);
    const report = (done: number, phase: string): void => {
      job.progress = { kind, done, total, phase };
    };
    return this.enqueue(async () => {
      try {
        if (ctl.signal.aborted) throw new ProbeError('CANCELLED', 'Cancelled.');
        return await work(cur, ctl.signal, report);
      } finally {
        if (this.labJobs.get(id) === job) this.labJobs.delete(id);
      }
    });
  }

  /** MagNet, GPDNN uncertainty and the ensemble vote on the tab's clean image and its current adversarial. */
  defend(tabId: number | null): Promise<DefenseReportView> {
    return this.runLab(tabId, 'defenses', 3, async ({ result, input }, signal, report) => {
      if (catalogEntry(result.modelId)?.dataset === 'fashion-mnist' || input.length !== 28 * 28) {
        throw new ProbeError('BAD_INPUT', 'The defenses (MagNet, GPDNN, ensemble) are MNIST models: pick an MNIST model and run an attack first.');
      }
      if (!this.deps.defenses) throw new ProbeError('MODEL_NOT_FOUND', 'The defense models are not available in this build.');
      const t0 = performance.now();
      report(0, 'loading the defense models');
      const [assets, reformer, backend] = await Promise.all([this.deps.defenses(), this.deps.model(result.modelId), this.deps.backend()]);
      if (signal.aborted) throw new ProbeError('CANCELLED', 'The defenses check was cancelled.');
      report(1, 'running MagNet, the GPDNN and the ensemble');
      const mg = magnet(assets.vae, reformer, magnetCalibrationOf(assets.magnetFile));
      const [clean, adv] = await defendImages(
        { magnet: mg, gpdnn: assets.gpdnn, gpCalibration: uncertaintyCalibrationOf(assets.uncertaintyFile), ensemble: assets.ensemble },
        [input, Float32Array.from(result.attack.adversarial.pixels)],
        signal,
      );
      report(3, 'done');
      const side = (d: DefenseSideData): DefenseSide => ({
        magnet: {
          score: d.magnet.score, flagged: d.magnet.flagged,
          reformed: { label: d.magnet.reformedLabel, className: reformer.classNames[d.magnet.reformedLabel] ?? String(d.magnet.reformedLabel), probs: d.magnet.reformedProbs },
        },
        gp: d.gp,
        ensemble: { votes: d.ensemble.votes, majority: d.ensemble.majority, agreement: d.ensemble.agreement, members: d.ensemble.members },
      });
      return {
        resultId: result.id, modelId: result.modelId, attack: result.attack.choice.attack,
        magnet: { vae: assets.vae.id, metric: assets.magnetFile.metric, ...calibratedRate(assets.magnetFile) },
        gp: { model: assets.gpdnn.id, ...calibratedRate(assets.uncertaintyFile) },
        ensemble: { model: assets.ensemble.id },
        classNames: [...assets.gpdnn.classNames],
        clean: side(clean), adversarial: side(adv), backend, ms: performance.now() - t0,
      };
    });
  }

  /** Goodfellow et al. fig. 4 for the tab's model and clean image: logits along sign(∇ₓJ), ε in [−maxEps, maxEps]. */
  sweep(tabId: number | null, maxEps: number, points: number): Promise<SweepView> {
    return this.runLab(tabId, 'sweep', 2, async ({ result, input }, signal, report) => {
      const t0 = performance.now();
      report(0, 'loading the model');
      const [model, backend] = await Promise.all([this.deps.model(result.modelId), this.deps.backend()]);
      if (signal.aborted) throw new ProbeError('CANCELLED', 'The ε-sweep was cancelled.');
      report(1, `${points} points, one batched forward pass`);
      const d = await logitSweep(model, input, result.prediction.label, { maxEps, points, strip: SWEEP_STRIP });
      const [h, w] = model.inputShape;
      return {
        resultId: result.id, modelId: result.modelId, classNames: [...model.classNames], label: d.label, eps: d.eps, logits: d.logits, predicted: d.predicted,
        strip: d.stripIndex.map((i, j) => ({ eps: d.eps[i], predicted: d.predicted[i], image: grayImage(d.strip[j], w, h) })),
        backend, ms: performance.now() - t0,
      };
    });
  }

  /** The tab's current adversarial fed to every shipped MNIST classifier. */
  transfer(tabId: number | null): Promise<TransferView> {
    const ids = transferModelIds();
    return this.runLab(tabId, 'transfer', ids.length, async ({ result, input }, signal, report) => {
      if (catalogEntry(result.modelId)?.dataset === 'fashion-mnist' || input.length !== 28 * 28) {
        throw new ProbeError('BAD_INPUT', 'The transfer chart feeds the adversarial to the MNIST models: pick an MNIST model and run an attack first.');
      }
      const t0 = performance.now();
      const backend = await this.deps.backend();
      const rows = await transferAll(ids, (m) => this.deps.model(m), input, Float32Array.from(result.attack.adversarial.pixels), {
        signal, onProgress: (done, _total, m) => report(done, m),
      });
      return {
        resultId: result.id, modelId: result.modelId, attack: result.attack.choice.attack,
        rows: rows.map((r) => ({
          modelId: r.modelId, title: catalogEntry(r.modelId)?.title ?? r.modelId, cleanClass: r.cleanClass, advClass: r.advClass,
          advConfidence: r.advConfidence, fooled: r.fooled, source: r.modelId === result.modelId,
        })),
        backend, ms: performance.now() - t0,
      };
    });
  }

  /** The tab's adversarial as an 8-bit PNG at model resolution that still fools the model if any rounding does (re-classified). */
  exportAdversarial(tabId: number | null): Promise<ExportView> {
    return this.runLab(tabId, 'export', 2, async ({ result, input }, signal, report) => {
      report(0, 'loading the model');
      const [model, backend] = await Promise.all([this.deps.model(result.modelId), this.deps.backend()]);
      if (signal.aborted) throw new ProbeError('CANCELLED', 'The export was cancelled.');
      report(1, 'rounding to 8 bits and re-classifying');
      return buildExportView(model, result, input, backend);
    });
  }

  /** The tab's image and attack against mnist-maxout vs mnist-maxout-adv (and mnist-lr-3v7 vs -adv for a 3 or 7). */
  adversarialTraining(tabId: number | null): Promise<AdvTrainingView> {
    return this.runLab(tabId, 'adversarial-training', ADV_TRAINING_STEPS, async ({ result, input }, signal, report) =>
      buildAdvTrainingView((m) => this.deps.model(m), result, input, await this.deps.backend(), signal, report));
  }

  /** The tab's page image and attack on a model the user brought (`loader` fetches and loads it). */
  userModel(tabId: number | null, source: UserModelSource, loader: UserModelLoader): Promise<UserModelView> {
    return this.runLab(tabId, 'user-model', 4, async ({ id, result }, signal, report) => {
      const image = this.tabs.get(id)?.image ?? null;
      if (!image) throw new ProbeError('NO_RESULT', 'The extension restarted since this image was probed: right-click it and probe it again.');
      return buildUserModelView(loader, source, result, image, await this.deps.backend(), signal, report, (run) => this.userRuns.set(id, run));
    });
  }

  /**
   * The tab's last run on the user model `source`, exported at the page image's full resolution (up to
   * MAX_EXPORT_CAPTURE_SIDE): the image is captured again at that size from the frame it was probed in.
   */
  userExport(tabId: number | null, source: UserModelSource, loader: UserModelLoader): Promise<FullExportView> {
    return this.runLab(tabId, 'user-export', 4, async ({ id, result }, signal, report) => {
      const run = this.userRuns.get(id);
      if (!run || run.resultId !== result.id || run.sourceKey !== sourceKey(source)) {
        throw new ProbeError('NO_RESULT', 'Run this model on the current image first (Load and attack), then export.');
      }
      if (!fullResolutionSupported(run.spec)) {
        throw new ProbeError('BAD_INPUT', 'Full-resolution export is for photo models (RGB, or a plain resize); this model takes the image by MNIST-style centring, so export at model resolution.');
      }
      const frameId = this.frames.get(id);
      if (frameId === undefined) throw new ProbeError('NO_RESULT', 'The extension restarted since this image was probed: right-click it and probe it again.');
      report(0, 'capturing the image at full resolution');
      const frameUrl = this.requests.get(id)?.frameUrl;
      const { image, source: got } = await this.deps.capture({ tabId: id, frameId, srcUrl: result.source.srcUrl, pageUrl: result.source.pageUrl, frameUrl, maxSide: MAX_EXPORT_CAPTURE_SIDE });
      if (signal.aborted) throw new ProbeError('CANCELLED', 'The export was cancelled.');
      return buildUserExportView(loader, run, image, { width: got.naturalWidth, height: got.naturalHeight }, await this.deps.backend(), signal, report);
    });
  }

  /** JSMA's saliency map S(X, target) of the tab's clean image (θ = +1, logits) and A(X, t) toward every other class. */
  saliency(tabId: number | null, target: number): Promise<SaliencyView> {
    return this.runLab(tabId, 'saliency', SALIENCY_STEPS, async ({ result, input }, signal, report) => {
      report(0, 'loading the model');
      const [model, backend] = await Promise.all([this.deps.model(result.modelId), this.deps.backend()]);
      if (signal.aborted) throw new ProbeError('CANCELLED', 'The saliency map was cancelled.');
      return buildSaliencyView(model, result, input, target, backend, signal, report);
    });
  }

  forgetTab(tabId: number): void {
    this.labJobs.get(tabId)?.ctl.abort();
    this.labJobs.delete(tabId);
    this.tabs.delete(tabId);
    this.frames.delete(tabId);
    this.requests.delete(tabId);
    this.userRuns.delete(tabId);
    if (this.lastTab === tabId) this.lastTab = null;
  }
}

export function idleState(tabId: number | null): ProbeState {
  return { status: 'idle', job: 0, tabId, backend: null, modelId: DEFAULT_MODEL_ID, result: null, error: null, stage: null, progress: null };
}
