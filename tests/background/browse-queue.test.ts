import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import { BadgeQueue } from '../../src/background/browse-queue';
import { MAX_BROWSE_ORIGINS, parseOrigins, siteOrigin, withOrigin } from '../../src/background/browse-sites';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('badge queue: the low-priority lane', () => {
  it('runs badge jobs one at a time, first in first out, while the probe queue is idle', async () => {
    const q = new BadgeQueue(() => false, 10, 5);
    const order: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const job = (name: string) => async (): Promise<string> => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      order.push(`start ${name}`);
      await tick(3);
      order.push(`end ${name}`);
      concurrent--;
      return name;
    };
    const got = await Promise.all([q.push(1, job('a')), q.push(1, job('b')), q.push(2, job('c'))]);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(maxConcurrent).toBe(1);
    expect(q.stats()).toMatchObject({ pending: 0, running: false, done: 3, dropped: 0 });
  });

  it('idle() settles at once with no badge running, else when the running one ends, with held-back badges still waiting', async () => {
    let busy = false;
    const q = new BadgeQueue(() => busy, 10, 2);
    let idleNow = false;
    await q.idle().then(() => (idleNow = true));
    expect(idleNow).toBe(true);
    const log: string[] = [];
    let release: () => void = () => undefined;
    const first = q.push(1, () => new Promise<void>((r) => (release = () => { log.push('badge 1 done'); r(); })));
    const second = q.push(1, async () => void log.push('badge 2'));
    expect(q.stats().running).toBe(true);
    busy = true; // a backend switch is queued: badge 2 must hold back
    const idle = q.idle().then(() => log.push('idle'));
    await tick(10);
    expect(log).toEqual([]);
    release();
    await idle;
    await tick(10);
    expect(log).toEqual(['badge 1 done', 'idle']);
    expect(q.stats()).toMatchObject({ pending: 1, running: false });
    busy = false;
    await Promise.all([first, second]);
    expect(log).toEqual(['badge 1 done', 'idle', 'badge 2']);
  });

  it('waits while a user probe is queued or running, and starts as soon as it is done', async () => {
    let busy = true;
    const q = new BadgeQueue(() => busy, 10, 5);
    let ran = false;
    const p = q.push(1, async () => {
      ran = true;
      return 7;
    });
    await tick(30);
    expect(ran).toBe(false);
    expect(q.stats().pending).toBe(1);
    expect(q.stats().yielded).toBeGreaterThan(0);
    busy = false;
    expect(await p).toBe(7);
    expect(ran).toBe(true);
  });

  it('a user job arriving between badges goes first: the next badge waits for it', async () => {
    let userJobs = 0;
    const q = new BadgeQueue(() => userJobs > 0, 10, 2);
    const log: string[] = [];
    const badge = (n: number) => async (): Promise<void> => {
      log.push(`badge ${n}`);
      if (n === 1) userJobs = 1; // a probe arrives while badge 1 runs
      await tick(1);
    };
    const all = Promise.all([q.push(1, badge(1)), q.push(1, badge(2))]);
    await tick(20);
    expect(log).toEqual(['badge 1']);
    log.push('user probe done');
    userJobs = 0;
    await all;
    expect(log).toEqual(['badge 1', 'user probe done', 'badge 2']);
  });

  it('drops the oldest waiting badge beyond maxPending with CANCELLED, and a tab’s badges when it is switched off', async () => {
    let busy = true;
    const q = new BadgeQueue(() => busy, 2, 5);
    const results = [1, 2, 3].map((n) => q.push(n === 3 ? 9 : 1, async () => n).then((v) => v, (e: unknown) => e));
    expect(await results[0]).toBeInstanceOf(ProbeError);
    expect(((await results[0]) as ProbeError).code).toBe('CANCELLED');
    expect(q.dropKey(1)).toBe(1);
    expect(((await results[1]) as ProbeError).code).toBe('CANCELLED');
    busy = false;
    expect(await results[2]).toBe(3);
    expect(q.stats()).toMatchObject({ pending: 0, dropped: 2, done: 1 });
  });

  it('a failing badge job rejects its own promise and the lane goes on', async () => {
    const q = new BadgeQueue(() => false, 10, 5);
    const bad = q.push(1, async () => {
      throw new ProbeError('BAD_INPUT', 'nope');
    });
    const good = q.push(1, async () => 'ok');
    await expect(bad).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(await good).toBe('ok');
  });
});

describe('browse-mode origin settings', () => {
  it('takes the origin of http(s) pages only', () => {
    expect(siteOrigin('http://127.0.0.1:8080/a/b.html?x#y')).toBe('http://127.0.0.1:8080');
    expect(siteOrigin('https://Example.COM/x')).toBe('https://example.com');
    for (const u of ['chrome://extensions', 'file:///tmp/a.html', 'chrome-extension://abc/p.html', 'about:blank', 'data:text/html,x', '', 'nonsense', null, undefined]) {
      expect(siteOrigin(u)).toBeNull();
    }
  });

  it('cleans the stored list: canonical http(s) origins, no duplicates, no junk', () => {
    expect(parseOrigins(['http://a.test', 'http://a.test', 'https://b.test/path', 'file:///x', 42, null, 'http://c.test:80'])).toEqual(['http://a.test']);
    for (const raw of [null, undefined, 'http://a.test', { 0: 'http://a.test' }, 7]) expect(parseOrigins(raw)).toEqual([]);
    const many = Array.from({ length: MAX_BROWSE_ORIGINS + 5 }, (_, i) => `http://s${i}.test`);
    const kept = parseOrigins(many);
    expect(kept.length).toBe(MAX_BROWSE_ORIGINS);
    expect(kept[kept.length - 1]).toBe(many[many.length - 1]);
  });

  it('switches one origin on (once) and off', () => {
    const on = withOrigin(withOrigin([], 'http://a.test', true), 'http://a.test', true);
    expect(on).toEqual(['http://a.test']);
    expect(withOrigin(['http://b.test', ...on], 'http://a.test', false)).toEqual(['http://b.test']);
    expect(withOrigin(['http://b.test'], 'http://a.test', false)).toEqual(['http://b.test']);
  });
});
