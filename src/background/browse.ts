/**
 * Browse mode in the service worker: the per-site switch (origins in chrome.storage.local), badge
 * classification of images the content script sends (top class and confidence of the tab's chosen model, and
 * the GPDNN's "unsure" flag for MNIST-digit models) in a low-priority lane behind every user probe, and a
 * badge click, which probes the image as the context menu does. The browser is reached only through
 * BrowseDeps, so tests pass fakes.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../core/errors';
import { preprocess, type RgbaImage } from '../core/image/preprocess';
import { catalogEntry, DEFAULT_MODEL_ID, type CatalogEntry } from '../core/models/catalog';
import type { Classifier, Uncertain } from '../core/models/types';
import { gpUncertainty, type UncertaintyCalibration } from '../core/defenses/uncertainty';
import { classifyOne } from '../core/probe';
import { base64ToBytes } from '../protocol/base64';
import type { BadgeView, BrowseSite, CapturedImage } from '../protocol/types';
import { BadgeQueue } from './browse-queue';
import { parseOrigins, siteOrigin, withOrigin } from './browse-sites';

/** The GPDNN and its calibrated entropy threshold (models/mnist-gpdnn/uncertainty.json). */
export interface BadgeGp {
  readonly model: Uncertain;
  readonly calibration: UncertaintyCalibration;
}

/** What browse mode needs from the browser and the rest of the background. */
export interface BrowseDeps {
  /** The stored origin list (raw: it is checked here). */
  readOrigins(): Promise<unknown>;
  writeOrigins(list: string[]): Promise<void>;
  /** The address of the page a tab shows (null: unknown tab or not readable). */
  tabUrl(tabId: number): Promise<string | null>;
  /** Tell every frame of every tab showing `origin` to start or stop (best effort). */
  tellOrigin(origin: string, enabled: boolean): Promise<void>;
  /** May the extension read `origin` (badges need the site allowed)? Absent: yes. */
  allowed?(origin: string): Promise<boolean>;
  /** The model the popup chose for a tab (the probe state's model). */
  modelIdOf(tabId: number): string;
  model(id: string): Promise<Classifier>;
  gpdnn(): Promise<BadgeGp>;
  backend(): Promise<string>;
  /** Is the probe queue busy with a user's job (badges then wait)? */
  busy(): boolean;
  /** Probe an image as the context menu does. */
  probe(req: { tabId: number; frameId: number; srcUrl: string; pageUrl: string; frameUrl?: string }): void;
}

/** The sender fields browse mode uses (a chrome.runtime.MessageSender from a content script). */
export interface BrowseSender {
  readonly tab?: { readonly id?: number; readonly url?: string };
  readonly frameId?: number;
  readonly url?: string;
}

/** Does the GPDNN (an MNIST-digit model, 28×28 grey) say something about this model's input? */
export function gpdnnApplies(entry: CatalogEntry): boolean {
  return entry.preprocess === 'mnist' && entry.dataset !== 'fashion-mnist';
}

/**
 * One badge: preprocess the page pixels for `model`, classify, and (for MNIST-digit models) the GPDNN's unsure
 * flag on the same input. Frees every tensor it makes.
 */
export async function classifyBadge(model: Classifier, entry: CatalogEntry, image: RgbaImage, gp: BadgeGp | null, backend: string): Promise<BadgeView> {
  const t0 = performance.now();
  const [h] = model.inputShape;
  const { pixels } = preprocess(image, { mode: entry.preprocess, size: h });
  const pred = await classifyOne(model, pixels);
  let unsure: boolean | null = null;
  if (gp && gpdnnApplies(entry)) {
    const [gh, gw, gc] = gp.model.inputShape;
    if (pixels.length === gh * gw * gc) {
      const x = tf.tensor4d(pixels, [1, gh, gw, gc]);
      try {
        unsure = (await gpUncertainty(gp.model, x, gp.calibration)).unsure[0] ?? null;
      } finally {
        x.dispose();
      }
    }
  }
  const confidence = pred.probs[pred.label] ?? 0;
  return { modelId: model.id, label: pred.label, className: pred.className, confidence, unsure, backend, ms: performance.now() - t0 };
}

/** Page pixels as an RgbaImage, or BAD_MESSAGE when the byte count does not match the size. */
export function badgeImage(img: CapturedImage): RgbaImage {
  const data = base64ToBytes(img.rgbaBase64);
  if (data.length !== img.width * img.height * 4) throw new ProbeError('BAD_MESSAGE', 'The page sent malformed pixels.');
  return { width: img.width, height: img.height, data };
}

/** Browse mode's requests, one instance per service worker. */
export class BrowseService {
  readonly queue: BadgeQueue;

  constructor(private readonly deps: BrowseDeps) {
    this.queue = new BadgeQueue(() => deps.busy());
  }

  private async origins(): Promise<string[]> {
    return parseOrigins(await this.deps.readOrigins().catch(() => []));
  }

  /** Is browse mode on for the site tab `tabId` shows? */
  async getSite(tabId: number): Promise<BrowseSite> {
    const origin = siteOrigin(await this.deps.tabUrl(tabId));
    // On only while the site is also allowed: a grant withdrawn in the browser's settings switches badges off there.
    const on = origin !== null && (await this.origins()).includes(origin) && (this.deps.allowed ? await this.deps.allowed(origin) : true);
    return { origin, enabled: on };
  }

  /** Switch browse mode on or off for the site tab `tabId` shows, and tell that site's open frames. */
  async setSite(tabId: number, enabled: boolean): Promise<BrowseSite> {
    const origin = siteOrigin(await this.deps.tabUrl(tabId));
    if (origin === null) throw new ProbeError('UNSUPPORTED_PAGE', 'Badges can be switched on for web pages (http or https) only.');
    await this.deps.writeOrigins(withOrigin(await this.origins(), origin, enabled));
    if (!enabled) this.queue.dropKey(tabId);
    await this.deps.tellOrigin(origin, enabled);
    return { origin, enabled };
  }

  /** A badge for one image from a content script; FORBIDDEN_SENDER unless browse mode is on for its tab's site. */
  async classify(sender: BrowseSender, image: CapturedImage): Promise<BadgeView> {
    const tabId = sender.tab?.id;
    if (typeof tabId !== 'number') throw new ProbeError('FORBIDDEN_SENDER', 'Badge requests come from a page’s content script.');
    const origin = siteOrigin(sender.tab?.url ?? sender.url);
    if (origin === null || !(await this.origins()).includes(origin)) {
      throw new ProbeError('FORBIDDEN_SENDER', 'Browse mode is off for this site.');
    }
    // A copy of the content script left in a page after the site's grant was withdrawn reads nothing more.
    if (this.deps.allowed && !(await this.deps.allowed(origin))) {
      throw new ProbeError('FORBIDDEN_SENDER', 'The extension is no longer allowed on this site.');
    }
    const pixels = badgeImage(image);
    return this.queue.push(tabId, async () => {
      const modelId = this.deps.modelIdOf(tabId);
      const entry = catalogEntry(modelId) ?? catalogEntry(DEFAULT_MODEL_ID);
      if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${modelId}" is shipped.`);
      const [model, backend] = await Promise.all([this.deps.model(entry.id), this.deps.backend()]);
      const gp = gpdnnApplies(entry) ? await this.deps.gpdnn().catch(() => null) : null;
      return classifyBadge(model, entry, pixels, gp, backend);
    });
  }

  /** A badge was clicked: the normal probe of that image in the sender's tab and frame. */
  open(sender: BrowseSender, srcUrl: string): { started: boolean } {
    const tabId = sender.tab?.id;
    if (typeof tabId !== 'number') throw new ProbeError('FORBIDDEN_SENDER', 'Badge clicks come from a page’s content script.');
    this.deps.probe({ tabId, frameId: sender.frameId ?? 0, srcUrl, pageUrl: sender.tab?.url ?? sender.url ?? '', frameUrl: sender.url });
    return { started: true };
  }

  /** A tab closed: its waiting badges go. */
  forgetTab(tabId: number): void {
    this.queue.dropKey(tabId);
  }
}
