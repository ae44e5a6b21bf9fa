import { describe, expect, it } from 'vitest';
import { badgeText, SlidingWindow, UniqueQueue } from '../../src/content/browse-throttle';

describe('page-side badge pacing', () => {
  it('allows at most N sends in any one-second window', () => {
    const w = new SlidingWindow(3, 1000);
    const sent: number[] = [];
    for (let t = 0; t <= 3000; t += 10) {
      if (w.wait(t) === 0) {
        w.record(t);
        sent.push(t);
      }
    }
    for (const t of sent) expect(sent.filter((s) => s > t - 1000 && s <= t).length).toBeLessThanOrEqual(3);
    expect(sent.slice(0, 4)).toEqual([0, 10, 20, 1000]);
    // 3 per second over 3 s (+ the first of the 4th second at t = 3000).
    expect(sent.length).toBe(10);
  });

  it('says how long to wait when full', () => {
    const w = new SlidingWindow(2, 1000);
    w.record(100);
    w.record(400);
    expect(w.wait(500)).toBe(600);
    expect(w.wait(1100)).toBe(0);
    expect(() => new SlidingWindow(0)).toThrow(RangeError);
  });

  it('queues each image once and skips those that left the viewport', () => {
    const q = new UniqueQueue<string>();
    expect(q.add('a')).toBe(true);
    expect(q.add('b')).toBe(true);
    expect(q.add('a')).toBe(false);
    expect(q.add('c')).toBe(true);
    expect(q.size).toBe(3);
    expect(q.take((x) => x !== 'a')).toBe('b');
    expect(q.size).toBe(1);
    expect(q.add('a')).toBe(true);
    q.delete('c');
    expect(q.take(() => true)).toBe('a');
    expect(q.take(() => true)).toBeUndefined();
    q.add('z');
    q.clear();
    expect(q.size).toBe(0);
  });

  it('words the badge from the answer', () => {
    expect(badgeText({ className: '7', confidence: 0.9861, unsure: false })).toEqual({
      text: '7 · 99%',
      label: 'Adversarial probe: 7, 99% confident; the GPDNN is sure. Click to probe this image.',
    });
    expect(badgeText({ className: '3', confidence: 0.41, unsure: true }).text).toBe('3 · 41% · unsure');
    expect(badgeText({ className: 'Sandal', confidence: 0.5, unsure: null }).label).toMatch(/no GPDNN verdict/);
  });
});
