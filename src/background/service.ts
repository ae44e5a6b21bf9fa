import { ProbeError, toErrorInfo } from '../core/errors';
import { preprocess, type RgbaImage } from '../core/image/preprocess';
import { catalogEntry, DEFAULT_MODEL_ID } from '../core/models/catalog';
import type { Classifier } from '../core/models/types';
import { attackOne, classifyOne, grayImage, type VaeContext } from '../core/probe';
import type { AttackChoice, ImageSource, JobProgress, ProbeResult, ProbeState } from '../protocol/types';

export const DEFAULT_EPS = 0.25;
/** What a right-click runs: untargeted FGSM at the paper's ε. */
export const DEFAULT_CHOICE: AttackChoice = { attack: 'fgsm', params: { eps: DEFAULT_EPS }, target: null };
/** Progress is written to the state (and storage.session) at most this often. */
export const PROGRESS_EVERY_MS = 100;

/** What the service needs from the browser; the extension passes chrome-backed functions, tests pass fakes. */
export interface ServiceDeps {
  /** Pixels of the clicked image: from the page if it can, else fetched by the extension. */
  capture(req: { tabId: number; frameId: number; srcUrl: string; pageUrl: string }): Promise<{ image: RgbaImage; source: ImageSource }>;
  model(id: string): Promise<Classifier>;
  /** The VAE, its latent classifier and one example per class, for Kos et al.'s attacks. */
  vae?(): Promise<VaeContext>;
  backend(): Promise<string>;
  /** Mirror of the state for a popup opened after the service worker restarted. */
  persist(tabId: number, state: ProbeState): void;
  now(): number;
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
  private lastTab: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
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

  /** Restore a persisted state (after a service-worker restart). */
  restore(tabId: number, state: ProbeState): void {
    if (this.tabs.has(tabId)) return;
    this.seq = Math.max(this.seq, state.job);
    const input = state.result ? Float32Array.from(state.result.input.pixels) : null;
    const status = state.status === 'running' ? 'error' : state.status;
    const error = state.status === 'running' ? { code: 'CANCELLED' as const, message: 'The extension restarted during the job; probe the image again.' } : state.error;
    this.tabs.set(tabId, { state: { ...state, status, error, stage: null, progress: null }, input });
    if (this.lastTab === null) this.lastTab = tabId;
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
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The context-menu path: probe the image at srcUrl in tab/frame with the default FGSM. */
  probeImage(req: { tabId: number; frameId: number; srcUrl: string; pageUrl: string; modelId?: string }): Promise<ProbeState> {
    const modelId = req.modelId ?? this.tabs.get(req.tabId)?.state.modelId ?? DEFAULT_MODEL_ID;
    this.lastTab = req.tabId;
    const jobId = ++this.seq;
    // A new image: the previous result is not shown while this one runs.
    this.set(req.tabId, { status: 'running', job: jobId, stage: 'capturing the image', error: null, result: null, modelId, progress: null }, null, null);
    return this.enqueue(async () => {
      try {
        const { image, source } = await this.deps.capture(req);
        this.set(req.tabId, { stage: 'classifying' }, undefined, image);
        return await this.analyse(req.tabId, jobId, modelId, image, source, DEFAULT_CHOICE);
      } catch (e) {
        return this.set(req.tabId, { status: 'error', stage: null, progress: null, error: toErrorInfo(e) });
      }
    });
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
    this.set(tabId, { stage: `attacking (${choice.attack})`, backend });
    const vae = choice.attack.startsWith('vae-') ? await this.vaeContext() : undefined;
    let lastProgress = 0;
    const onProgress = (p: { done: number; total: number; phase?: string; info?: Readonly<Record<string, number>> }): void => {
      const t = this.deps.now();
      if (t - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = t;
      const progress: JobProgress = { done: p.done, total: p.total, phase: p.phase ?? null, info: p.info ? { ...p.info } : null };
      if (this.tabs.get(tabId)?.state.job === jobId) this.set(tabId, { progress });
    };
    const attack = await attackOne(model, input, prediction, choice, { signal, onProgress }, vae);
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
    return this.set(tabId, { status: 'done', stage: null, progress: null, result, error: null, backend, modelId }, input);
  }

  private async vaeContext(): Promise<VaeContext> {
    if (!this.deps.vae) throw new ProbeError('MODEL_NOT_FOUND', 'The VAE models are not available in this build.');
    return this.deps.vae();
  }

  forgetTab(tabId: number): void {
    this.tabs.delete(tabId);
    if (this.lastTab === tabId) this.lastTab = null;
  }
}

export function idleState(tabId: number | null): ProbeState {
  return { status: 'idle', job: 0, tabId, backend: null, modelId: DEFAULT_MODEL_ID, result: null, error: null, stage: null, progress: null };
}
