/**
 * Keeps the service worker alive while work is queued or running, and only then (issue 7 "Jobs"; checklist
 * row 28). Chrome stops an extension's worker after 30 s without events or extension API calls, and awaiting
 * tfjs does not count; attack jobs write their progress to storage.session now and then, but a lab computation
 * (transfer, adversarial training, a full-resolution export) may run longer than that silently. While `busy()`
 * holds, a cheap extension API call every `everyMs` (under 30 s) resets the idle timer; once idle the timer is
 * cleared, so the worker can sleep.
 */
export interface KeepAliveTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Under Chrome's 30-second idle limit with room to spare. */
export const KEEP_ALIVE_EVERY_MS = 20_000;

export class KeepAlive {
  private handle: unknown = null;
  /** API calls made (for diagnostics and tests). */
  pings = 0;

  constructor(
    private readonly ping: () => Promise<unknown>,
    private readonly busy: () => boolean,
    private readonly everyMs = KEEP_ALIVE_EVERY_MS,
    private readonly timers: KeepAliveTimers = { setInterval: (f, ms) => setInterval(f, ms), clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>) },
  ) {}

  /** Whether the timer is running. */
  get active(): boolean {
    return this.handle !== null;
  }

  /** Call after anything that may have queued work: starts the timer if there is work and none runs. */
  poke(): void {
    if (this.handle !== null || !this.busy()) return;
    this.handle = this.timers.setInterval(() => this.tick(), this.everyMs);
  }

  private tick(): void {
    if (!this.busy()) {
      this.timers.clearInterval(this.handle);
      this.handle = null;
      return;
    }
    this.pings++;
    void this.ping().catch(() => undefined);
  }
}
