import { ProbeError, toErrorInfo } from '../core/errors';
import { preprocess, type RgbaImage } from '../core/image/preprocess';
import { catalogEntry, DEFAULT_MODEL_ID } from '../core/models/catalog';
import type { Classifier } from '../core/models/types';
import { classifyOne, fgsmOne, grayImage } from '../core/probe';
import type { FgsmParams, ImageSource, ProbeResult, ProbeState } from '../protocol/types';

export const DEFAULT_EPS = 0.25;

/** What the service needs from the browser; the extension passes chrome-backed functions, tests pass fakes. */
export interface ServiceDeps {
  /** Pixels of the clicked image: from the page if it can, else fetched by the extension. */
  capture(req: { tabId: number; frameId: number; srcUrl: string; pageUrl: string }): Promise<{ image: RgbaImage; source: ImageSource }>;
  model(id: string): Promise<Classifier>;
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
 * Probe jobs per tab: capture → preprocess → classify → FGSM. Jobs run one at a time
 * (FIFO) so two tabs never fight over the GPU; each result goes to its own tab.
 */
export class ProbeService {
  private readonly tabs = new Map<number, TabEntry>();
  private lastTab: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;

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
    this.tabs.set(tabId, { state: { ...state, status, error, stage: null }, input });
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
    this.set(req.tabId, { status: 'running', job: jobId, stage: 'capturing the image', error: null, result: null, modelId }, null, null);
    return this.enqueue(async () => {
      try {
        const { image, source } = await this.deps.capture(req);
        this.set(req.tabId, { stage: 'classifying' }, undefined, image);
        return await this.analyse(req.tabId, jobId, modelId, image, source, { eps: DEFAULT_EPS, target: null });
      } catch (e) {
        return this.set(req.tabId, { status: 'error', stage: null, error: toErrorInfo(e) });
      }
    });
  }

  /** Re-run FGSM with new parameters (and maybe another model) on the tab's current image. */
  rerunFgsm(tabId: number | null, modelId: string, params: FgsmParams): Promise<ProbeState> {
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
    this.set(id, { status: 'running', job: jobId, stage: 'attacking', error: null, modelId });
    return this.enqueue(async () => {
      try {
        return reuse
          ? await this.analyse(id, jobId, modelId, null, prev.source, params, input, prev.preprocess)
          : await this.analyse(id, jobId, modelId, image, prev.source, params);
      } catch (e) {
        return this.set(id, { status: 'error', stage: null, error: toErrorInfo(e) });
      }
    });
  }

  private async analyse(
    tabId: number,
    jobId: number,
    modelId: string,
    image: RgbaImage | null,
    source: ImageSource,
    params: FgsmParams,
    knownInput?: Float32Array,
    knownPre?: ProbeResult['preprocess'],
  ): Promise<ProbeState> {
    const entry = catalogEntry(modelId);
    if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${modelId}" is shipped.`);
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
    this.set(tabId, { stage: 'attacking (FGSM)', backend });
    const fgsm = await fgsmOne(model, input, prediction, params);
    const result: ProbeResult = {
      id: `${jobId}`,
      source,
      modelId,
      classNames: [...model.classNames],
      backend,
      preprocess: pre,
      input: grayImage(input, w, h),
      prediction,
      fgsm,
      createdAt: this.deps.now(),
    };
    return this.set(tabId, { status: 'done', stage: null, result, error: null, backend, modelId }, input);
  }

  forgetTab(tabId: number): void {
    this.tabs.delete(tabId);
    if (this.lastTab === tabId) this.lastTab = null;
  }
}

export function idleState(tabId: number | null): ProbeState {
  return { status: 'idle', job: 0, tabId, backend: null, modelId: DEFAULT_MODEL_ID, result: null, error: null, stage: null };
}
