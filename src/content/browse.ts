/**
 * Browse mode in the page: an IntersectionObserver finds images entering the viewport, each is captured lazily
 * (capture.ts, one short task per image), sent to the background at most BADGES_PER_SECOND, and its answer shown
 * as a small badge in a closed shadow root (page CSS cannot reach inside, and the badge lives outside the page's
 * own elements). `stop()` removes every badge, observer, listener and timer. No chrome.* here: the content
 * script passes the messaging functions.
 */
import { toErrorInfo, type ErrorInfo } from '../core/errors';
import { captureImageElement } from './capture';
import { badgeText, MAX_BADGES_IN_FLIGHT, SlidingWindow, UniqueQueue } from './browse-throttle';
import type { CapturedImage } from '../protocol/types';

/** Largest side of the pixels a badge request carries (the protocol's MAX_BADGE_SIDE; a unit test keeps them equal). */
export const BADGE_MAX_SIDE = 256;
/** Images smaller than this (CSS pixels, either side) get no badge: icons, spacers, tracking pixels. */
export const MIN_BADGE_IMAGE_PX = 16;
/** Tag of each badge's host element (its content is in a closed shadow root). */
export const BADGE_TAG = 'adv-probe-badge';

/** The background's answer for one image. */
export interface BadgeAnswer {
  readonly label: number;
  readonly className: string;
  readonly confidence: number;
  readonly unsure: boolean | null;
}

/** What the controller needs from the extension. */
export interface BrowseHooks {
  classify(srcUrl: string, image: CapturedImage): Promise<{ ok: true; data: BadgeAnswer } | { ok: false; error: ErrorInfo }>;
  /** A badge was clicked (or activated with the keyboard). */
  open(img: HTMLImageElement, srcUrl: string): void;
  /** False once the extension is gone (reloaded or removed): the controller then stops itself. */
  connected(): boolean;
}

const CSS = `
:host { all: initial; }
.b { font: 600 11px/1.4 system-ui, sans-serif; color: #fff; background: rgba(20, 24, 40, 0.82); border-radius: 8px;
  padding: 1px 6px; cursor: pointer; white-space: nowrap; user-select: none; box-shadow: 0 1px 2px rgba(0,0,0,.3); }
.b.unsure { background: rgba(150, 90, 0, 0.88); }
.b.err { background: rgba(90, 90, 90, 0.75); font-weight: 400; }
.b:focus-visible { outline: 2px solid #7ab8ff; }
`;

/** Browse mode's page side: start() observes, stop() leaves nothing behind. */
export class BrowseController {
  private io: IntersectionObserver | null = null;
  private mo: MutationObserver | null = null;
  private readonly visible = new Set<HTMLImageElement>();
  private readonly queue = new UniqueQueue<HTMLImageElement>();
  private readonly badges = new Map<HTMLImageElement, HTMLElement>();
  /** Images asked about (badge shown or in flight): not asked again while on. */
  private asked = new WeakSet<HTMLImageElement>();
  private readonly waitingLoad = new Map<HTMLImageElement, () => void>();
  private readonly window = new SlidingWindow();
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private raf: number | null = null;
  /** Bumped by stop(): replies of an earlier run are ignored. */
  private generation = 0;
  private readonly onResize = (): void => this.schedulePlace();
  /** A scroll inside the page (a scrolling container; the document's own scroll moves the badges with it). */
  private readonly onScroll = (ev: Event): void => {
    if (this.badges.size > 0 && ev.target !== this.doc) this.schedulePlace();
  };

  constructor(private readonly hooks: BrowseHooks, private readonly doc: Document = document) {}

  get running(): boolean {
    return this.io !== null;
  }

  /** Badges shown now. */
  get count(): number {
    return this.badges.size;
  }

  start(): void {
    if (this.io) return;
    this.generation++;
    this.io = new IntersectionObserver((entries) => this.onIntersect(entries), { rootMargin: '64px' });
    for (const img of Array.from(this.doc.images)) this.io.observe(img);
    this.mo = new MutationObserver((records) => {
      // Content added or removed may move the images that have badges (layout shift): place them again.
      if (this.badges.size > 0) this.schedulePlace();
      for (const r of records) {
        for (const n of Array.from(r.addedNodes)) {
          if (n instanceof HTMLImageElement) this.io?.observe(n);
          else if (n instanceof Element) for (const img of Array.from(n.getElementsByTagName('img'))) this.io?.observe(img);
        }
      }
    });
    this.mo.observe(this.doc.documentElement, { childList: true, subtree: true });
    this.doc.defaultView?.addEventListener('resize', this.onResize, { passive: true });
    this.doc.addEventListener('scroll', this.onScroll, { capture: true, passive: true });
  }

  stop(): void {
    this.generation++;
    this.io?.disconnect();
    this.io = null;
    this.mo?.disconnect();
    this.mo = null;
    this.doc.defaultView?.removeEventListener('resize', this.onResize);
    this.doc.removeEventListener('scroll', this.onScroll, { capture: true });
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.raf !== null) cancelAnimationFrame(this.raf);
    this.raf = null;
    for (const [img, fn] of this.waitingLoad) img.removeEventListener('load', fn);
    this.waitingLoad.clear();
    for (const host of this.badges.values()) host.remove();
    this.badges.clear();
    this.visible.clear();
    this.queue.clear();
    this.asked = new WeakSet();
    this.inFlight = 0;
  }

  private onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      const img = e.target as HTMLImageElement;
      if (e.isIntersecting) {
        this.visible.add(img);
        if (!this.asked.has(img)) this.queue.add(img);
      } else {
        this.visible.delete(img);
      }
      // Shown again or clipped away (e.g. scrolled out of its container): its badge follows.
      if (this.badges.has(img)) this.schedulePlace();
    }
    this.pump();
  }

  private pump(): void {
    if (!this.io || this.timer !== null) return;
    while (this.inFlight < MAX_BADGES_IN_FLIGHT && this.queue.size > 0) {
      const wait = this.window.wait(performance.now());
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      const img = this.queue.take((i) => this.visible.has(i) && !this.asked.has(i) && i.isConnected);
      if (!img) return;
      if (!img.complete || img.naturalWidth === 0) {
        this.whenLoaded(img);
        continue;
      }
      const box = img.getBoundingClientRect();
      if (box.width < MIN_BADGE_IMAGE_PX || box.height < MIN_BADGE_IMAGE_PX) continue;
      this.asked.add(img);
      this.window.record(performance.now());
      this.inFlight++;
      // Each image is captured in its own task, so the page never sees one long task from a burst.
      const gen = this.generation;
      setTimeout(() => void this.ask(img, gen), 0);
    }
  }

  private whenLoaded(img: HTMLImageElement): void {
    if (this.waitingLoad.has(img)) return;
    const fn = (): void => {
      this.waitingLoad.delete(img);
      if (this.io && this.visible.has(img)) {
        this.queue.add(img);
        this.pump();
      }
    };
    this.waitingLoad.set(img, fn);
    img.addEventListener('load', fn, { once: true });
  }

  private async ask(img: HTMLImageElement, gen: number): Promise<void> {
    try {
      if (gen !== this.generation) return;
      const srcUrl = img.currentSrc || img.src;
      let answer: BadgeAnswer | ErrorInfo;
      try {
        const image = captureImageElement(img, BADGE_MAX_SIDE);
        const reply = await this.hooks.classify(srcUrl.slice(0, 8192), image);
        answer = reply.ok ? reply.data : reply.error;
      } catch (e) {
        answer = toErrorInfo(e);
      }
      if (gen !== this.generation) return;
      if (!this.hooks.connected()) {
        this.stop();
        return;
      }
      // Dropped while queued in the background (switched off, too many waiting): ask again when seen next.
      if ('code' in answer && answer.code === 'CANCELLED') {
        this.asked.delete(img);
        return;
      }
      this.show(img, srcUrl, answer);
    } finally {
      if (gen === this.generation) {
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.pump();
      }
    }
  }

  private show(img: HTMLImageElement, srcUrl: string, answer: BadgeAnswer | ErrorInfo): void {
    const host = this.doc.createElement(BADGE_TAG);
    const root = host.attachShadow({ mode: 'closed' });
    const style = this.doc.createElement('style');
    style.textContent = CSS;
    const b = this.doc.createElement('span');
    if ('code' in answer) {
      b.className = 'b err';
      b.textContent = '–';
      host.setAttribute('aria-label', `Adversarial probe: no badge (${answer.message}) Click to probe this image.`);
      host.dataset.error = answer.code;
    } else {
      const { text, label } = badgeText(answer);
      b.className = answer.unsure ? 'b unsure' : 'b';
      b.textContent = text;
      host.setAttribute('aria-label', label);
      host.dataset.label = String(answer.label);
      host.dataset.confidence = answer.confidence.toFixed(4);
      host.dataset.unsure = answer.unsure === null ? 'n/a' : String(answer.unsure);
    }
    // Which image it belongs to (an address the page already has), for the page's own tools and for tests.
    host.dataset.src = srcUrl.slice(0, 2048);
    host.title = host.getAttribute('aria-label') ?? '';
    host.setAttribute('role', 'button');
    host.tabIndex = 0;
    root.append(style, b);
    const activate = (ev: Event): void => {
      ev.preventDefault();
      ev.stopPropagation();
      this.hooks.open(img, srcUrl);
    };
    host.addEventListener('click', activate);
    host.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') activate(ev);
    });
    this.badges.get(img)?.remove();
    this.badges.set(img, host);
    this.doc.documentElement.append(host);
    this.place(img, host);
  }

  private place(img: HTMLImageElement, host: HTMLElement): void {
    const r = img.getBoundingClientRect();
    const view = this.doc.defaultView;
    const x = r.left + (view?.scrollX ?? 0) + 2;
    const y = r.top + (view?.scrollY ?? 0) + 2;
    const s = host.style;
    s.setProperty('position', 'absolute', 'important');
    s.setProperty('left', `${Math.round(x)}px`, 'important');
    s.setProperty('top', `${Math.round(y)}px`, 'important');
    s.setProperty('z-index', '2147483646', 'important');
    // Hidden while its image is not in view: clipped by a scrolling container (the observer says so), or not rendered.
    s.setProperty('display', r.width > 0 && this.visible.has(img) ? 'block' : 'none', 'important');
    s.setProperty('margin', '0', 'important');
  }

  private schedulePlace(): void {
    if (this.raf !== null) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = null;
      for (const [img, host] of this.badges) this.place(img, host);
    });
  }
}
