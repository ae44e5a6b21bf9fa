/** Browse mode's page-side pacing (pure: no DOM, no chrome.*): at most N badge requests per second, a few in flight. */

/** Badge requests a page sends at most per second. */
export const BADGES_PER_SECOND = 8;
/** Badge requests waiting for a reply at once, at most. */
export const MAX_BADGES_IN_FLIGHT = 2;

/** A sliding one-second window: `wait(now)` is how long until another send is allowed (0: now). */
export class SlidingWindow {
  private readonly times: number[] = [];

  constructor(private readonly perSecond: number = BADGES_PER_SECOND, private readonly windowMs = 1000) {
    if (!Number.isInteger(perSecond) || perSecond < 1) throw new RangeError('perSecond must be a positive integer');
  }

  /** Milliseconds until the window has room (0 when it has room now). */
  wait(now: number): number {
    while (this.times.length > 0 && now - this.times[0] >= this.windowMs) this.times.shift();
    return this.times.length < this.perSecond ? 0 : this.times[0] + this.windowMs - now;
  }

  /** Record a send at `now`. */
  record(now: number): void {
    this.times.push(now);
  }
}

/** A queue of distinct items, first in first out; an item already waiting is not added twice. */
export class UniqueQueue<T> {
  private readonly items: T[] = [];
  private readonly members = new Set<T>();

  add(item: T): boolean {
    if (this.members.has(item)) return false;
    this.members.add(item);
    this.items.push(item);
    return true;
  }

  /** The first waiting item for which `keep` holds; items it skips are dropped (they left the viewport). */
  take(keep: (item: T) => boolean): T | undefined {
    while (this.items.length > 0) {
      const it = this.items.shift() as T;
      this.members.delete(it);
      if (keep(it)) return it;
    }
    return undefined;
  }

  delete(item: T): void {
    if (!this.members.delete(item)) return;
    const i = this.items.indexOf(item);
    if (i >= 0) this.items.splice(i, 1);
  }

  clear(): void {
    this.items.length = 0;
    this.members.clear();
  }

  get size(): number {
    return this.items.length;
  }
}

/** The badge's words: "7 · 99%" and, where the GPDNN judged it, whether it is unsure. */
export function badgeText(b: { className: string; confidence: number; unsure: boolean | null }): { text: string; label: string } {
  const pct = `${Math.round(b.confidence * 100)}%`;
  const text = `${b.className} · ${pct}${b.unsure === true ? ' · unsure' : ''}`;
  const gp = b.unsure === null ? 'no GPDNN verdict for this model' : b.unsure ? 'the GPDNN is unsure' : 'the GPDNN is sure';
  return { text, label: `Adversarial probe: ${b.className}, ${pct} confident; ${gp}. Click to probe this image.` };
}
