/**
 * An in-memory Connector for tests and for working on the popup without the extension.
 * It draws a synthetic 28×28 digit, classifies it with a tiny template-matching linear
 * model and runs every attack of the registry on it in plain TS (see mock-attacks.ts).
 */
import { attackMeta, resolveParams } from '../core/attacks/specs';
import { ProbeError, type ErrorInfo } from '../core/errors';
import type { AttackChoice, AttackOutcome, AttackParamValues, BackendName, BackendView, BrowseSite, LabKind, LabProgress, ModelInfo, ProbeResult, ProbeState, ProbeStatus } from '../protocol/types';
import type { Connector, LabConnector } from './connector';
import { mockDefenses, mockSweep, mockTransfer, MOCK_TRANSFER_MODELS } from './mock-lab';
import { mockAdvTraining, mockExport, mockUserExport, mockUserModel } from './mock-lab2';
import { checkUserModelSource, type UserModelSource } from '../core/lab/user-source';
import { mockAttack, mockProgress } from './mock-attacks';
import { mockSaliency } from './mock-saliency';
import { MOCK_CLASS_NAMES, mockInput, mockPredict } from './mock-model';

export { MOCK_CLASS_NAMES, MOCK_SIDE, mockPredict, syntheticDigit } from './mock-model';
export { mockAttack, mockProgress } from './mock-attacks';

export const MOCK_MODEL_ID = 'mnist-mock';

export type MockCall =
  | { readonly method: 'getState' }
  | { readonly method: 'runAttack'; readonly choice: AttackChoice & { readonly modelId: string } }
  | { readonly method: 'cancel' }
  | { readonly method: 'listModels' }
  | { readonly method: 'retry' }
  | { readonly method: 'requestAccess'; readonly origins: readonly string[] }
  | { readonly method: 'listAccess' }
  | { readonly method: 'removeAccess'; readonly origins: readonly string[] }
  | { readonly method: 'defend' }
  | { readonly method: 'sweep'; readonly maxEps: number; readonly points: number }
  | { readonly method: 'transfer' }
  | { readonly method: 'labProgress' }
  | { readonly method: 'cancelLab' }
  | { readonly method: 'exportAdversarial' }
  | { readonly method: 'adversarialTraining' }
  | { readonly method: 'userModel'; readonly source: UserModelSource }
  | { readonly method: 'userExport'; readonly source: UserModelSource }
  | { readonly method: 'storeModelFiles'; readonly names: readonly string[] }
  | { readonly method: 'saliency'; readonly target: number }
  | { readonly method: 'getBrowseSite' }
  | { readonly method: 'setBrowseSite'; readonly enabled: boolean }
  | { readonly method: 'getBackend' }
  | { readonly method: 'setBackend'; readonly backend: BackendName | null };

export type MockMethod = MockCall['method'];

/** The attack shown at first: an attack id, its parameters (defaults filled in) and target. */
export interface MockInitialChoice {
  readonly attack: string;
  readonly params?: AttackParamValues;
  readonly target?: number | null;
}

export interface MockConnectorOptions {
  /** What getState reports at first (default 'done'). */
  readonly status?: ProbeStatus;
  /**
   * With status 'running': how many getState calls report 'running' before the probe is
   * done. Default: it never finishes.
   */
  readonly runningPolls?: number;
  /**
   * runAttack answers at once with a 'running' state (with progress for iterative attacks) that
   * lasts this many getState calls before the new result is done; Infinity: until cancel().
   * Default: runAttack answers with the finished result.
   */
  readonly attackPolls?: number;
  /** The error of status 'error' (default CROSS_ORIGIN_BLOCKED). */
  readonly error?: ErrorInfo;
  /** The image was an animation decoded by the extension: only its first frame was analysed. */
  readonly firstFrameOnly?: boolean;
  /** An error shown with the first 'done' state (a cancel, or a job stopped by a worker restart). */
  readonly doneError?: ErrorInfo;
  /** The digit drawn (0–9, default 7). */
  readonly digit?: number;
  /** The attack shown at first (default FGSM, ε 0.1, untargeted). */
  readonly choice?: MockInitialChoice;
  /** The backend chosen automatically (default webgpu); setBackend changes the backend of later results. */
  readonly backend?: BackendName;
  /** Backends setBackend refuses with BACKEND_FAILED (default none), also listed as not used. */
  readonly unavailableBackends?: readonly BackendName[];
  readonly modelId?: string;
  /** What listModels returns (default: the one mock model). runAttack accepts these ids. */
  readonly models?: readonly ModelInfo[];
  readonly tabId?: number | null;
  readonly srcUrl?: string;
  readonly pageUrl?: string;
  readonly inverted?: boolean;
  /** Delay of every call, in ms (default 0: answers on the next microtask). */
  readonly latencyMs?: number;
  /**
   * Lab requests (defend, sweep, transfer) answer after this many labProgress calls, which report
   * progress meanwhile; Infinity: only cancelLab ends them (with CANCELLED). Default: at once.
   */
  readonly labPolls?: number;
  /**
   * Browse mode for the current tab's site: its origin (null: a page without one, where the popup
   * hides the switch) and whether badges are on. Default: the origin of pageUrl, off.
   */
  readonly browse?: { readonly origin: string | null; readonly enabled: boolean };
  /** With status 'error' and error NO_ACCESS: the host patterns the probe needs (ProbeState.needsAccess). */
  readonly needsAccess?: readonly string[];
  /** Host patterns allowed at first (default none). */
  readonly granted?: readonly string[];
  /** What the user answers the browser's permission prompt (default 'allow'). */
  readonly access?: 'allow' | 'deny';
  /** Values to throw instead of answering, per method. */
  readonly throws?: { readonly [M in MockMethod]?: unknown };
}

export interface MockConnector extends Connector, LabConnector {
  retry(): Promise<ProbeState>;
  requestAccess(origins: readonly string[]): Promise<boolean>;
  listAccess(): Promise<string[]>;
  removeAccess(origins: readonly string[]): Promise<boolean>;
  /** Every call, in order. */
  readonly calls: MockCall[];
  /** The last state returned (by any method); null before the first. */
  lastState(): ProbeState | null;
  /** The finished state as it is now (no call is recorded). */
  doneState(): ProbeState;
}

const STAGES = ['capturing', 'classifying', 'attacking'] as const;
const CANCELLED: ErrorInfo = { code: 'CANCELLED', message: 'The attack was cancelled.' };

interface AttackJob {
  readonly choice: AttackChoice;
  readonly modelId: string;
  readonly outcome: AttackOutcome;
  polls: number;
}

/** A Connector backed by in-memory state. See MockConnectorOptions. */
export function createMockConnector(opts: MockConnectorOptions = {}): MockConnector {
  const calls: MockCall[] = [];
  const tabId = opts.tabId === undefined ? 1 : opts.tabId;
  const autoBackend: BackendName = opts.backend ?? 'webgpu';
  let backend: BackendName = autoBackend;
  let preference: BackendName | null = null;
  const backendView = (): BackendView => ({
    backend,
    preference,
    notUsed: (opts.unavailableBackends ?? []).map((b) => ({ backend: b, reason: `${b} does not work here (mock)` })),
    measured: [],
  });
  const digit = opts.digit ?? 7;
  const latency = opts.latencyMs ?? 0;
  const models: readonly ModelInfo[] = opts.models ?? [
    { id: opts.modelId ?? MOCK_MODEL_ID, title: 'Mock template classifier', dataset: 'mnist', testAccuracy: null },
  ];
  let modelId = opts.modelId ?? models[0]?.id ?? MOCK_MODEL_ID;
  /** Model files "stored" by storeModelFiles, by key (memory only). */
  const storedFiles = new Map<string, readonly { readonly name: string; readonly bytes: Uint8Array }[]>();
  let browse: BrowseSite = opts.browse ? { ...opts.browse } : { origin: new URL(opts.pageUrl ?? 'https://example.com/digits/').origin, enabled: false };
  const granted = new Set<string>(opts.granted ?? []);
  let status: ProbeStatus = opts.status ?? 'done';
  let polls = 0;
  let last: ProbeState | null = null;
  /** The attack running (status 'running' after runAttack with attackPolls), else null. */
  let job: AttackJob | null = null;
  /** Error shown with a done state (after a cancel). */
  let doneError: ErrorInfo | null = opts.doneError ?? null;

  /** The pending lab request (labPolls > 0), settled by labProgress or cancelLab. */
  let lab: { kind: LabKind; total: number; polls: number; settle: () => void; fail: (e: unknown) => void } | null = null;

  const input = mockInput(digit);
  const createdAt = Date.now();
  const initial = opts.choice ?? { attack: 'fgsm', params: { eps: 0.1 } };
  let outcome = mockAttack(input, { attack: initial.attack, params: initial.params ?? {}, target: initial.target ?? null });
  let runs = 0;

  function result(): ProbeResult {
    return {
      id: `mock-probe-${digit}-${runs}`,
      source: {
        srcUrl: opts.srcUrl ?? 'https://example.com/digits/seven.png',
        pageUrl: opts.pageUrl ?? 'https://example.com/digits/',
        naturalWidth: 280,
        naturalHeight: 280,
        capturedBy: opts.firstFrameOnly ? 'extension' : 'page',
        ...(opts.firstFrameOnly ? { firstFrameOnly: true } : {}),
      },
      modelId,
      classNames: [...MOCK_CLASS_NAMES],
      backend,
      preprocess: { mode: 'mnist', inverted: opts.inverted ?? false },
      input,
      prediction: mockPredict(input.pixels),
      attack: outcome,
      createdAt,
    };
  }

  function base(): Pick<ProbeState, 'tabId' | 'backend' | 'modelId' | 'job'> {
    return { tabId, backend, modelId, job: calls.length };
  }

  function done(): ProbeState {
    return { ...base(), status: 'done', result: result(), error: doneError, stage: null, progress: null };
  }

  function attackRunning(j: AttackJob): ProbeState {
    const planned = opts.attackPolls ?? 1;
    const total = mockProgress(j.choice, 0)?.total ?? 0;
    // A finite run ends with its last poll; an endless one moves 5% per poll and never ends.
    const steps = Number.isFinite(planned) ? (total * j.polls) / planned : Math.min(total - 1, (total * j.polls) / 20);
    return {
      ...base(),
      modelId: j.modelId,
      status: 'running',
      result: result(),
      error: null,
      stage: `attacking (${attackMeta(j.choice.attack)?.name ?? j.choice.attack})`,
      progress: mockProgress(j.choice, steps),
    };
  }

  function current(): ProbeState {
    switch (status) {
      case 'done':
        return done();
      case 'running': {
        if (job) return attackRunning(job);
        const stage = STAGES[Math.min(polls, STAGES.length - 1)];
        return { ...base(), status: 'running', result: null, error: null, stage, progress: null };
      }
      case 'error':
        return {
          ...base(),
          status: 'error',
          result: null,
          error: opts.error ?? { code: 'CROSS_ORIGIN_BLOCKED', message: 'The page does not allow reading this image.' },
          stage: null,
          progress: null,
          ...(opts.needsAccess ? { needsAccess: [...opts.needsAccess] } : {}),
        };
      default:
        return { ...base(), backend: null, status: 'idle', result: null, error: null, stage: null, progress: null };
    }
  }

  function finish(j: AttackJob): void {
    outcome = j.outcome;
    modelId = j.modelId;
    runs++;
    job = null;
    doneError = null;
    status = 'done';
  }

  async function answer<T>(method: MockMethod, make: () => T): Promise<T> {
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

  function check(choice: AttackChoice & { readonly modelId: string }): AttackChoice {
    const spec = attackMeta(choice.attack);
    if (!spec) throw new ProbeError('BAD_MESSAGE', 'attack must be a known attack id');
    let params: AttackParamValues;
    try {
      params = resolveParams(spec, choice.params);
    } catch (e) {
      throw new ProbeError('BAD_MESSAGE', e instanceof Error ? e.message : 'bad params');
    }
    const t = choice.target;
    if (t !== null && (!Number.isInteger(t) || t < 0 || t >= MOCK_CLASS_NAMES.length)) {
      throw new ProbeError('BAD_MESSAGE', 'target must be a class index or null');
    }
    const model = models.find((m) => m.id === choice.modelId);
    if (!model) throw new ProbeError('MODEL_NOT_FOUND', `No model "${choice.modelId}".`);
    if (spec.model === 'vae' && !model.dataset.startsWith('mnist')) {
      throw new ProbeError('BAD_INPUT', `${spec.name} needs an MNIST model; "${model.id}" is trained on ${model.dataset}.`);
    }
    return { attack: spec.id, params, target: t };
  }

  return {
    calls,
    lastState: () => last,
    doneState: done,
    getState() {
      calls.push({ method: 'getState' });
      return answer('getState', () => {
        if (status === 'running' && job) {
          const j = job;
          j.polls++;
          if (j.polls > (opts.attackPolls ?? 0)) {
            finish(j);
            return remember(done());
          }
          return remember(attackRunning(j));
        }
        const s = current();
        if (status === 'running') {
          polls++;
          if (opts.runningPolls !== undefined && polls >= opts.runningPolls) status = 'done';
        }
        return remember(s);
      });
    },
    runAttack(choice) {
      calls.push({ method: 'runAttack', choice: { attack: choice.attack, params: { ...choice.params }, target: choice.target, modelId: choice.modelId } });
      return answer('runAttack', () => {
        if (status !== 'done' && job === null) {
          return remember({
            ...current(),
            status: 'error',
            result: null,
            stage: null,
            progress: null,
            error: { code: 'NO_RESULT', message: 'Nothing has been probed in this tab yet.' },
          });
        }
        const checked = check(choice);
        const next: AttackJob = { choice: checked, modelId: choice.modelId, outcome: mockAttack(input, checked), polls: 0 };
        if (!opts.attackPolls) {
          finish(next);
          return remember(done());
        }
        job = next;
        doneError = null;
        status = 'running';
        return remember(attackRunning(next));
      });
    },
    cancel() {
      calls.push({ method: 'cancel' });
      return answer('cancel', () => {
        if (status === 'running' && job) {
          job = null;
          status = 'done';
          doneError = CANCELLED;
        }
        return remember(current());
      });
    },
    retry() {
      calls.push({ method: 'retry' });
      return answer('retry', () => {
        // The probe that needed access works once every host it named is allowed.
        if (status === 'error' && opts.needsAccess && opts.needsAccess.every((o) => granted.has(o))) status = 'done';
        return remember(current());
      });
    },
    requestAccess(origins: readonly string[]) {
      calls.push({ method: 'requestAccess', origins: [...origins] });
      return answer('requestAccess', () => {
        if (origins.every((o) => granted.has(o))) return true;
        if (opts.access === 'deny') return false;
        for (const o of origins) granted.add(o);
        return true;
      });
    },
    listAccess() {
      calls.push({ method: 'listAccess' });
      return answer('listAccess', () => [...granted]);
    },
    removeAccess(origins: readonly string[]) {
      calls.push({ method: 'removeAccess', origins: [...origins] });
      return answer('removeAccess', () => {
        for (const o of origins) granted.delete(o);
        return true;
      });
    },
    getBackend() {
      calls.push({ method: 'getBackend' });
      return answer('getBackend', backendView);
    },
    setBackend(b: BackendName | null) {
      calls.push({ method: 'setBackend', backend: b });
      return answer('setBackend', () => {
        if (b !== null && opts.unavailableBackends?.includes(b)) throw new ProbeError('BACKEND_FAILED', `${b} does not work here (mock).`);
        preference = b;
        backend = b ?? autoBackend;
        return backendView();
      });
    },
    getBrowseSite() {
      calls.push({ method: 'getBrowseSite' });
      return answer('getBrowseSite', (): BrowseSite => ({ ...browse }));
    },
    setBrowseSite(enabled: boolean) {
      calls.push({ method: 'setBrowseSite', enabled });
      return answer('setBrowseSite', (): BrowseSite => {
        if (browse.origin === null) throw new ProbeError('UNSUPPORTED_PAGE', 'Browse mode works on web pages only.');
        browse = { origin: browse.origin, enabled };
        return { ...browse };
      });
    },
    listModels() {
      calls.push({ method: 'listModels' });
      return answer('listModels', (): ModelInfo[] => models.map((m) => ({ ...m })));
    },
    defend() {
      calls.push({ method: 'defend' });
      return labAnswer('defend', 'defenses', 3, () => {
        const r = result();
        return mockDefenses(r.id, r.modelId, r.attack.choice.attack, r.input, r.attack.adversarial);
      });
    },
    sweep({ maxEps, points }) {
      calls.push({ method: 'sweep', maxEps, points });
      return labAnswer('sweep', 'sweep', 2, () => {
        if (!(maxEps > 0 && maxEps <= 2) || !Number.isInteger(points) || points < 3 || points > 101 || points % 2 === 0) {
          throw new ProbeError('BAD_MESSAGE', 'maxEps must be in (0, 2] and points an odd integer in [3, 101]');
        }
        const r = result();
        return mockSweep(r.id, r.modelId, r.input, maxEps, points);
      });
    },
    transfer() {
      calls.push({ method: 'transfer' });
      return labAnswer('transfer', 'transfer', MOCK_TRANSFER_MODELS.length, () => {
        const r = result();
        return mockTransfer(r.id, r.modelId, r.attack.choice.attack, r.input, r.attack.adversarial);
      });
    },
    exportAdversarial() {
      calls.push({ method: 'exportAdversarial' });
      return labAnswer('exportAdversarial', 'export', 2, () => mockExport(result()));
    },
    adversarialTraining() {
      calls.push({ method: 'adversarialTraining' });
      return labAnswer('adversarialTraining', 'adversarial-training', 6, () => mockAdvTraining(result()));
    },
    userModel(source) {
      calls.push({ method: 'userModel', source });
      return labAnswer('userModel', 'user-model', 4, () => mockUserModel(result(), checkUserModelSource(source, 'BAD_MESSAGE')));
    },
    storeModelFiles(files) {
      calls.push({ method: 'storeModelFiles', names: files.map((f) => f.name) });
      return answer('storeModelFiles', () => {
        const key = (storedFiles.size + 1).toString(16).padStart(32, '0');
        storedFiles.set(key, files);
        return key;
      });
    },
    userExport(source) {
      calls.push({ method: 'userExport', source });
      return labAnswer('userExport', 'user-export', 4, () => mockUserExport(checkUserModelSource(source, 'BAD_MESSAGE')));
    },
    saliency({ target }) {
      calls.push({ method: 'saliency', target });
      return labAnswer('saliency', 'saliency', 2, () => mockSaliency(result(), target));
    },
    labProgress() {
      calls.push({ method: 'labProgress' });
      return answer('labProgress', (): LabProgress => {
        if (!lab) return { kind: null, done: 0, total: 0, phase: null };
        const l = lab;
        l.polls++;
        const planned = opts.labPolls ?? 0;
        const p: LabProgress = {
          kind: l.kind,
          done: Number.isFinite(planned) ? Math.min(l.total, Math.floor((l.total * l.polls) / planned)) : Math.min(l.total - 1, Math.floor(l.polls / 2)),
          total: l.total,
          phase: `step ${l.polls}`,
        };
        if (l.polls >= planned) l.settle();
        return p;
      });
    },
    cancelLab() {
      calls.push({ method: 'cancelLab' });
      return answer('cancelLab', (): LabProgress => {
        const l = lab;
        if (!l) return { kind: null, done: 0, total: 0, phase: null };
        l.fail(new ProbeError('CANCELLED', 'The lab computation was cancelled.'));
        return { kind: l.kind, done: 0, total: l.total, phase: 'cancelling' };
      });
    },
  };

  /** A lab answer: at once, or (labPolls) after that many labProgress calls; only one at a time (a new one cancels the old). */
  async function labAnswer<T>(method: MockMethod, kind: LabKind, total: number, make: () => T): Promise<T> {
    await answer(method, () => undefined);
    if (status !== 'done') throw new ProbeError('NO_RESULT', 'Nothing has been probed in this tab yet.');
    if (!opts.labPolls) return make();
    lab?.fail(new ProbeError('CANCELLED', 'Replaced by a newer lab request.'));
    return new Promise<T>((resolve, reject) => {
      const mine = {
        kind, total, polls: 0,
        settle: () => {
          if (lab === mine) lab = null;
          try {
            resolve(make());
          } catch (e) {
            reject(e);
          }
        },
        fail: (e: unknown) => {
          if (lab === mine) lab = null;
          reject(e);
        },
      };
      lab = mine;
    });
  }
}
