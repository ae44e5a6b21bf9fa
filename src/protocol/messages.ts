import { ProbeError, type ErrorInfo } from '../core/errors';
import { attackMeta, resolveParams } from '../core/attacks/specs';
import { isWorkload, type BenchResult, type Workload } from '../core/bench';
import { SWEEP_LIMITS } from '../core/lab/sweep-common';
import { checkUserModelSource, type UserModelSource } from '../core/lab/user-source';
import type { FullExportView, SaliencyView, UserModelView } from './types';
import type { BadgeView, BrowseSite, CapturedImage } from './types';
import { BACKEND_NAMES, isBackendName, type BackendName, type BackendView } from './types';
import type { AdvTrainingView, AttackChoice, CaptureResponse, DefenseReportView, ExportView, DiagnosticsView, LabProgress, ModelInfo, ProbeState, SweepView, TransferView } from './types';

/** Largest side, in pixels, of an image captured for a probe (the attacks need no more). */
export const MAX_CAPTURE_SIDE = 512;
/** Largest side of an image captured for a full-resolution export (the page image as it is, up to this; larger ones are scaled down to it). */
export const MAX_EXPORT_CAPTURE_SIDE = 2048;
const MAX_URL_LENGTH = 8192;
/** Images a 'probe/bench' request carries: the same 100 MNIST test images the Node benchmark uses. */
export const BENCH_IMAGES = 100;
const BENCH_PIXELS = 28 * 28;

/**
 * The one message map. Every runtime message in the extension is one of these.
 * `from` says which context may send it: the background rejects others by sender.
 */
export interface MessageMap {
  /** Popup → background: the probe state of a tab (null: the most recent probe). */
  'probe/get-state': { req: { tabId: number | null }; res: ProbeState; from: 'extension-page' };
  /** Popup → background: run an attack (and maybe another model) on the tab's current image. */
  'probe/run-attack': { req: { tabId: number | null; modelId: string } & AttackChoice; res: ProbeState; from: 'extension-page' };
  /** Popup → background: cancel the tab's running or queued attack. */
  'probe/cancel': { req: { tabId: number | null }; res: ProbeState; from: 'extension-page' };
  /** Popup → background: probe the tab's last right-clicked image again (after the user allowed the extension on its site). */
  'probe/retry': { req: { tabId: number | null }; res: ProbeState; from: 'extension-page' };
  /** Popup → background: the shipped models. */
  'probe/list-models': { req: Record<string, never>; res: ModelInfo[]; from: 'extension-page' };
  /**
   * Extension page → background: time the benchmark workloads (src/core/bench.ts) on the service
   * worker's real backend, on the given 100 MNIST test images (grey levels 0–255, base64) and labels;
   * with `backend`, on that backend for this run (then back to the one the extension uses).
   */
  'probe/bench': {
    req: { workloads: Workload[]; runs: number | null; imagesBase64: string; labels: number[]; backend?: BackendName };
    res: BenchResult[];
    from: 'extension-page';
  };
  /** Popup → background: MagNet, GPDNN uncertainty and the ensemble vote on the tab's image and its adversarial. */
  'probe/defenses': { req: { tabId: number | null }; res: DefenseReportView; from: 'extension-page' };
  /** Popup → background: the tab's model's logits along the FGSM direction, ε from −maxEps to +maxEps (odd `points`). */
  'probe/sweep': { req: { tabId: number | null; maxEps: number; points: number }; res: SweepView; from: 'extension-page' };
  /** Popup → background: the tab's adversarial fed to every shipped MNIST classifier. */
  'probe/transfer': { req: { tabId: number | null }; res: TransferView; from: 'extension-page' };
  /** Popup → background: progress of the tab's running lab computation. */
  'probe/lab-progress': { req: { tabId: number | null }; res: LabProgress; from: 'extension-page' };
  /** Popup → background: cancel the tab's running or queued lab computation. */
  'probe/lab-cancel': { req: { tabId: number | null }; res: LabProgress; from: 'extension-page' };
  /** Popup → background: the tab's adversarial rounded to 8 bits (still adversarial if it can be) as a PNG at model resolution. */
  'probe/export': { req: { tabId: number | null }; res: ExportView; from: 'extension-page' };
  /** Popup → background: the tab's image and attack against mnist-maxout vs mnist-maxout-adv (and mnist-lr-3v7 vs -adv). */
  'probe/adv-training': { req: { tabId: number | null }; res: AdvTrainingView; from: 'extension-page' };
  /** Popup → background: load a user model (URL + description, or MobileNet v2 after consent) and run the tab's image and attack on it. */
  'probe/user-model': { req: { tabId: number | null; source: UserModelSource }; res: UserModelView; from: 'extension-page' };
  /** Popup → background: the adversarial of the tab's last run on that user model, exported as a PNG at the page image's full resolution (photo models). */
  'probe/user-export': { req: { tabId: number | null; source: UserModelSource }; res: FullExportView; from: 'extension-page' };
  /** Popup → background: JSMA's saliency map S(X, target) of the tab's clean image and A(X, t) for every other class. */
  'probe/saliency': { req: { tabId: number | null; target: number }; res: SaliencyView; from: 'extension-page' };
  /** Popup → background: the compute backend in use, the one asked for, and why the others are not used. */
  'probe/get-backend': { req: Record<string, never>; res: BackendView; from: 'extension-page' };
  /**
   * Popup → background: run later jobs on `backend` (null: choose by measurement). Applied after the jobs already
   * queued; a backend that does not work here is refused with BACKEND_FAILED and the previous one stays.
   */
  'probe/set-backend': { req: { backend: BackendName | null }; res: BackendView; from: 'extension-page' };
  /** Extension page → background: backend, live tensors, memory and job-queue counters (tests assert tensors return to baseline). */
  'probe/diagnostics': { req: Record<string, never>; res: DiagnosticsView; from: 'extension-page' };
  /** Background → content script: capture the right-clicked image's pixels. */
  'content/capture': { req: { srcUrl: string; maxSide: number }; res: CaptureResponse; from: 'background' };
  /** Popup → background: are browse-mode badges on for the site of tab `tabId`? */
  'browse/get-site': { req: { tabId: number }; res: BrowseSite; from: 'extension-page' };
  /** Popup → background: switch browse-mode badges on or off for the site of tab `tabId` (stored per origin; the tab's frames are told). */
  'browse/set-site': { req: { tabId: number; enabled: boolean }; res: BrowseSite; from: 'extension-page' };
  /** Content script → background: one visible image's pixels, for its badge (low priority: behind every user probe). */
  'browse/classify': { req: { srcUrl: string; image: CapturedImage }; res: BadgeView; from: 'content-script' };
  /** Content script → background: a badge was clicked; probe that image as the context menu does. */
  'browse/open': { req: { srcUrl: string }; res: { started: boolean }; from: 'content-script' };
  /** Background → content script (every frame): start or stop browse mode; replies with the badges it shows. */
  'content/browse': { req: { enabled: boolean }; res: { badges: number }; from: 'background' };
}

export type MessageType = keyof MessageMap;
export type Req<T extends MessageType> = MessageMap[T]['req'];
export type Res<T extends MessageType> = MessageMap[T]['res'];

export interface Envelope<T extends MessageType = MessageType> {
  readonly type: T;
  readonly payload: Req<T>;
}

/** Discriminated union of every envelope: narrowing on `type` narrows `payload`. */
export type AnyEnvelope = { [T in MessageType]: Envelope<T> }[MessageType];

export type Reply<T extends MessageType> =
  | { readonly ok: true; readonly data: Res<T> }
  | { readonly ok: false; readonly error: ErrorInfo };

type Validator<T extends MessageType> = (p: Record<string, unknown>) => Req<T>;

function bad(message: string): never {
  throw new ProbeError('BAD_MESSAGE', message);
}

function tabIdOf(p: Record<string, unknown>): number | null {
  const v = p.tabId;
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad('tabId must be a non-negative integer or null');
  return v + 0; // −0 → 0 (found by tests/protocol/fuzz.test.ts)
}

function modelIdOf(p: Record<string, unknown>): string {
  const v = p.modelId;
  if (typeof v !== 'string' || !/^[a-z0-9][a-z0-9.-]{0,63}$/.test(v)) bad('modelId must be a short model id');
  return v;
}

function srcUrlOf(p: Record<string, unknown>): string {
  const v = p.srcUrl;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_URL_LENGTH) bad('srcUrl must be a non-empty string');
  return v;
}

/** Largest side of an image a badge request carries (browse mode captures smaller than a probe). */
export const MAX_BADGE_SIDE = 256;

function capturedImageOf(v: unknown): CapturedImage {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('image must be an object');
  const o = v as Record<string, unknown>;
  onlyKeys(o, ['width', 'height', 'naturalWidth', 'naturalHeight', 'rgbaBase64']);
  const side = (k: string, max: number): number => {
    const n = o[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) bad(`image.${k} must be an integer in [1, ${max}]`);
    return n;
  };
  const width = side('width', MAX_BADGE_SIDE);
  const height = side('height', MAX_BADGE_SIDE);
  const naturalWidth = side('naturalWidth', 1 << 20);
  const naturalHeight = side('naturalHeight', 1 << 20);
  const b64 = o.rgbaBase64;
  if (typeof b64 !== 'string' || b64.length !== Math.ceil((width * height * 4) / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    bad('image.rgbaBase64 must hold width × height RGBA pixels in base64');
  }
  return { width, height, naturalWidth, naturalHeight, rgbaBase64: b64 };
}

function onlyKeys(p: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(p)) if (!keys.includes(k)) bad(`unexpected field "${k}"`);
}

const validators: { [T in MessageType]: Validator<T> } = {
  'probe/get-state': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/run-attack': (p) => {
    onlyKeys(p, ['tabId', 'modelId', 'attack', 'params', 'target']);
    const meta = attackMeta(typeof p.attack === 'string' ? p.attack : '');
    if (!meta) bad('attack must be a known attack id');
    const raw = p.params ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('params must be an object');
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length > 32) bad('too many params');
    for (const [, v] of entries) if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') bad('param values must be numbers, strings or booleans');
    let params: AttackChoice['params'];
    try {
      params = resolveParams(meta, raw as Record<string, unknown>);
    } catch (e) {
      bad(e instanceof Error ? e.message : 'bad params');
    }
    const target = p.target ?? null;
    if (target !== null && (typeof target !== 'number' || !Number.isInteger(target) || target < 0 || target > 999)) {
      bad('target must be a class index or null');
    }
    return { tabId: tabIdOf(p), modelId: modelIdOf(p), attack: meta.id, params, target: target === null ? null : target + 0 };
  },
  'probe/cancel': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/retry': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/list-models': (p) => {
    onlyKeys(p, []);
    return {};
  },
  'probe/bench': (p) => {
    onlyKeys(p, ['workloads', 'runs', 'imagesBase64', 'labels', 'backend']);
    const { workloads, runs, imagesBase64, labels, backend } = p;
    if (backend !== undefined && !isBackendName(backend)) bad(`backend must be one of ${BACKEND_NAMES.join(', ')}`);
    if (!Array.isArray(workloads) || workloads.length === 0 || workloads.length > 20 || !workloads.every(isWorkload)) bad('workloads must be a non-empty list of benchmark workload names');
    const r = runs ?? null;
    if (r !== null && (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 100)) bad('runs must be an integer in [1, 100] or null');
    const b64Length = Math.ceil((BENCH_IMAGES * BENCH_PIXELS) / 3) * 4;
    if (typeof imagesBase64 !== 'string' || imagesBase64.length !== b64Length || !/^[A-Za-z0-9+/]*={0,2}$/.test(imagesBase64)) {
      bad(`imagesBase64 must be ${BENCH_IMAGES} images of ${BENCH_PIXELS} bytes in base64`);
    }
    if (!Array.isArray(labels) || labels.length !== BENCH_IMAGES || !labels.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)) bad(`labels must be ${BENCH_IMAGES} digits`);
    return { workloads: workloads as Workload[], runs: r, imagesBase64, labels: labels as number[], ...(backend === undefined ? {} : { backend }) };
  },
  'probe/defenses': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/sweep': (p) => {
    onlyKeys(p, ['tabId', 'maxEps', 'points']);
    const { maxEps, points } = p;
    if (typeof maxEps !== 'number' || !Number.isFinite(maxEps) || maxEps <= 0 || maxEps > SWEEP_LIMITS.maxEps) bad(`maxEps must be a number in (0, ${SWEEP_LIMITS.maxEps}]`);
    if (typeof points !== 'number' || !Number.isInteger(points) || points < SWEEP_LIMITS.minPoints || points > SWEEP_LIMITS.maxPoints || points % 2 === 0) {
      bad(`points must be an odd integer in [${SWEEP_LIMITS.minPoints}, ${SWEEP_LIMITS.maxPoints}]`);
    }
    return { tabId: tabIdOf(p), maxEps, points };
  },
  'probe/transfer': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/lab-progress': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/lab-cancel': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/export': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/adv-training': (p) => {
    onlyKeys(p, ['tabId']);
    return { tabId: tabIdOf(p) };
  },
  'probe/user-model': (p) => {
    onlyKeys(p, ['tabId', 'source']);
    return { tabId: tabIdOf(p), source: checkUserModelSource(p.source, 'BAD_MESSAGE') };
  },
  'probe/user-export': (p) => {
    onlyKeys(p, ['tabId', 'source']);
    return { tabId: tabIdOf(p), source: checkUserModelSource(p.source, 'BAD_MESSAGE') };
  },
  'probe/saliency': (p) => {
    onlyKeys(p, ['tabId', 'target']);
    const t = p.target;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 999) bad('target must be a class index');
    return { tabId: tabIdOf(p), target: t + 0 };
  },
  'probe/get-backend': (p) => {
    onlyKeys(p, []);
    return {};
  },
  'probe/set-backend': (p) => {
    onlyKeys(p, ['backend']);
    const b = p.backend;
    if (b !== null && !isBackendName(b)) bad(`backend must be null (automatic) or one of ${BACKEND_NAMES.join(', ')}`);
    return { backend: b };
  },
  'probe/diagnostics': (p) => {
    onlyKeys(p, []);
    return {};
  },
  'content/capture': (p) => {
    onlyKeys(p, ['srcUrl', 'maxSide']);
    const { srcUrl, maxSide } = p;
    if (typeof srcUrl !== 'string' || srcUrl.length === 0 || srcUrl.length > MAX_URL_LENGTH) bad('srcUrl must be a non-empty string');
    if (typeof maxSide !== 'number' || !Number.isInteger(maxSide) || maxSide < 1 || maxSide > MAX_EXPORT_CAPTURE_SIDE) {
      bad(`maxSide must be an integer in [1, ${MAX_EXPORT_CAPTURE_SIDE}]`);
    }
    return { srcUrl, maxSide };
  },
  'browse/get-site': (p) => {
    onlyKeys(p, ['tabId']);
    const tabId = tabIdOf(p);
    if (tabId === null) bad('tabId must be a non-negative integer');
    return { tabId };
  },
  'browse/set-site': (p) => {
    onlyKeys(p, ['tabId', 'enabled']);
    const tabId = tabIdOf(p);
    if (tabId === null) bad('tabId must be a non-negative integer');
    if (typeof p.enabled !== 'boolean') bad('enabled must be a boolean');
    return { tabId, enabled: p.enabled };
  },
  'browse/classify': (p) => {
    onlyKeys(p, ['srcUrl', 'image']);
    return { srcUrl: srcUrlOf(p), image: capturedImageOf(p.image) };
  },
  'browse/open': (p) => {
    onlyKeys(p, ['srcUrl']);
    return { srcUrl: srcUrlOf(p) };
  },
  'content/browse': (p) => {
    onlyKeys(p, ['enabled']);
    if (typeof p.enabled !== 'boolean') bad('enabled must be a boolean');
    return { enabled: p.enabled };
  },
};

/** Which context may send each message. */
export const SENDERS: { [T in MessageType]: MessageMap[T]['from'] } = {
  'probe/get-state': 'extension-page',
  'probe/run-attack': 'extension-page',
  'probe/cancel': 'extension-page',
  'probe/retry': 'extension-page',
  'probe/list-models': 'extension-page',
  'probe/bench': 'extension-page',
  'probe/defenses': 'extension-page',
  'probe/sweep': 'extension-page',
  'probe/transfer': 'extension-page',
  'probe/lab-progress': 'extension-page',
  'probe/lab-cancel': 'extension-page',
  'probe/export': 'extension-page',
  'probe/adv-training': 'extension-page',
  'probe/user-model': 'extension-page',
  'probe/user-export': 'extension-page',
  'probe/saliency': 'extension-page',
  'probe/get-backend': 'extension-page',
  'probe/set-backend': 'extension-page',
  'probe/diagnostics': 'extension-page',
  'content/capture': 'background',
  'browse/get-site': 'extension-page',
  'browse/set-site': 'extension-page',
  'browse/classify': 'content-script',
  'browse/open': 'content-script',
  'content/browse': 'background',
};

export function isMessageType(v: unknown): v is MessageType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(validators, v);
}

/**
 * Runtime validation of an incoming message. Returns a typed envelope or throws a
 * ProbeError('BAD_MESSAGE'). Never trusts the shape of `raw`.
 */
export function parseMessage(raw: unknown): AnyEnvelope {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('message must be an object');
  const { type, payload } = raw as { type?: unknown; payload?: unknown };
  if (!isMessageType(type)) bad('unknown message type');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) bad('payload must be an object');
  const validated = (validators[type] as Validator<MessageType>)(payload as Record<string, unknown>);
  return { type, payload: validated } as AnyEnvelope;
}

/** Minimal view of chrome.runtime.MessageSender that the checks need. */
export interface SenderLike {
  readonly id?: string;
  readonly url?: string;
  readonly tab?: { readonly id?: number };
}

/** A content script of this extension in a web page: our id, a tab, and a page (not extension) URL. */
export function fromContentScript(sender: SenderLike, runtimeId: string, extensionOrigin: string): boolean {
  return sender.id === runtimeId && typeof sender.tab?.id === 'number' && typeof sender.url === 'string' && !sender.url.startsWith(extensionOrigin);
}

/**
 * Is `sender` allowed to send `type`? Only this extension (sender.id) and, for
 * extension-page messages, only pages of this extension (not content scripts in web pages).
 */
export function senderAllowed(type: MessageType, sender: SenderLike, runtimeId: string, extensionOrigin: string): boolean {
  if (sender.id !== runtimeId) return false;
  const from = SENDERS[type];
  if (from === 'extension-page') {
    return typeof sender.url === 'string' && sender.url.startsWith(extensionOrigin);
  }
  if (from === 'content-script') return fromContentScript(sender, runtimeId, extensionOrigin);
  // 'background' messages go to content scripts; the background itself never receives them.
  return false;
}

/** Check a message that a content script received from the background. */
export function contentMayAccept(sender: SenderLike, runtimeId: string): boolean {
  return sender.id === runtimeId && sender.tab === undefined;
}
