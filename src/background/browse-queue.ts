/**
 * Browse mode's low-priority lane: badge jobs run one at a time and only while the probe queue is idle, so a
 * user's probe never waits behind badges (it waits at most for the one badge classification in progress, a few
 * milliseconds). Pure scheduling: no chrome.*, no TensorFlow.js; the service worker passes `busy`.
 */
import { ProbeError } from '../core/errors';

/** Badge jobs waiting at most (the oldest is dropped first: it has most likely scrolled out of view). */
export const MAX_PENDING_BADGES = 48;
/** How often (ms) a waiting badge job checks whether the probe queue has gone idle. */
export const BADGE_POLL_MS = 20;

interface Pending {
  readonly key: number;
  readonly run: () => Promise<void>;
  readonly fail: (e: ProbeError) => void;
}

/** Counters for tests and diagnostics. */
export interface BadgeQueueStats {
  readonly pending: number;
  readonly running: boolean;
  readonly done: number;
  readonly dropped: number;
  /** Times a badge job was held back because the probe queue was busy. */
  readonly yielded: number;
}

/** A FIFO of badge jobs that yields to a higher-priority queue (`busy()` true: wait). */
export class BadgeQueue {
  private readonly pending: Pending[] = [];
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private done = 0;
  private dropped = 0;
  private yielded = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly busy: () => boolean,
    private readonly maxPending = MAX_PENDING_BADGES,
    private readonly pollMs = BADGE_POLL_MS,
  ) {}

  /** Queue a badge job under `key` (a tab id); settles with the job's value, or CANCELLED if it is dropped. */
  push<T>(key: number, job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({
        key,
        run: () => job().then(resolve, reject),
        fail: reject,
      });
      while (this.pending.length > this.maxPending) {
        this.dropped++;
        this.pending.shift()?.fail(new ProbeError('CANCELLED', 'Too many badges were waiting; this one was dropped.'));
      }
      this.pump();
    });
  }

  /** Drop every waiting job of `key` (browse mode switched off, tab closed): they fail with CANCELLED. */
  dropKey(key: number): number {
    let n = 0;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i].key !== key) continue;
      const [p] = this.pending.splice(i, 1);
      p.fail(new ProbeError('CANCELLED', 'Browse mode was switched off.'));
      n++;
    }
    this.dropped += n;
    return n;
  }

  /**
   * Settles once no badge job is running (waiting ones may stay: they hold back while the probe queue is busy).
   * A backend switch, which counts as busy, awaits this so that it never drops the models under a badge.
   */
  idle(): Promise<void> {
    return this.running ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  stats(): BadgeQueueStats {
    return { pending: this.pending.length, running: this.running, done: this.done, dropped: this.dropped, yielded: this.yielded };
  }

  private pump(): void {
    if (this.running || this.timer !== null || this.pending.length === 0) return;
    if (this.busy()) {
      this.yielded++;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.pollMs);
      return;
    }
    const next = this.pending.shift() as Pending;
    this.running = true;
    void next.run().finally(() => {
      this.running = false;
      this.done++;
      for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    });
  }
}
