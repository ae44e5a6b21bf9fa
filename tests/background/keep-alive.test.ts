import { describe, expect, it } from 'vitest';
import { KeepAlive, type KeepAliveTimers } from '../../src/background/keep-alive';

/** Hand-driven timers: `fire()` runs every live interval once. */
function manualTimers() {
  const live = new Map<number, () => void>();
  let next = 1;
  const timers: KeepAliveTimers = {
    setInterval: (fn) => {
      const id = next++;
      live.set(id, fn);
      return id;
    },
    clearInterval: (h) => void live.delete(h as number),
  };
  return { timers, live, fire: () => [...live.values()].forEach((f) => f()) };
}

describe('KeepAlive (the worker stays up only while work is queued or running)', () => {
  it('pings while busy, stops by itself when idle, and starts again for new work', () => {
    const t = manualTimers();
    let busy = false;
    let calls = 0;
    const k = new KeepAlive(async () => calls++, () => busy, 20_000, t.timers);
    k.poke();
    expect(k.active).toBe(false);
    expect(t.live.size).toBe(0);
    busy = true;
    k.poke();
    k.poke();
    expect(t.live.size).toBe(1);
    t.fire();
    t.fire();
    expect(calls).toBe(2);
    expect(k.pings).toBe(2);
    busy = false;
    t.fire();
    expect(calls).toBe(2);
    expect(k.active).toBe(false);
    expect(t.live.size).toBe(0);
    busy = true;
    k.poke();
    t.fire();
    expect(calls).toBe(3);
  });

  it('a failing ping (worker shutting down) is swallowed, and the interval is under Chrome’s 30 s idle limit by default', async () => {
    const t = manualTimers();
    const k = new KeepAlive(() => Promise.reject(new Error('Extension context invalidated')), () => true, undefined, t.timers);
    k.poke();
    expect(() => t.fire()).not.toThrow();
    await Promise.resolve();
    const { KEEP_ALIVE_EVERY_MS } = await import('../../src/background/keep-alive');
    expect(KEEP_ALIVE_EVERY_MS).toBeLessThan(30_000);
  });
});
