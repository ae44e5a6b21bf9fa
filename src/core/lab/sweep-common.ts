/** The ε-sweep's pure parts, free of tfjs (the message validator and the popup use them too). */

/** Bounds of an ε-sweep request (checked by the core and by the message validator). */
export const SWEEP_LIMITS = { minPoints: 3, maxPoints: 101, maxEps: 2, maxStrip: 9 } as const;

/** ε values from −maxEps to +maxEps, `points` of them, evenly spaced (the middle one exactly 0 for odd points). */
export function sweepEpsilons(maxEps: number, points: number): number[] {
  if (!(maxEps > 0) || !Number.isInteger(points) || points < 3 || points % 2 === 0) throw new RangeError('sweepEpsilons: maxEps > 0 and an odd points ≥ 3');
  const half = (points - 1) / 2;
  return Array.from({ length: points }, (_, i) => (i === half ? 0 : ((i - half) / half) * maxEps));
}

/** Evenly spaced indices 0 … n−1, k of them (first and last included when k ≥ 2). */
export function stripIndices(n: number, k: number): number[] {
  if (k <= 0 || n <= 0) return [];
  if (k === 1) return [Math.floor((n - 1) / 2)];
  const out: number[] = [];
  for (let j = 0; j < k; j++) {
    const i = Math.round((j * (n - 1)) / (k - 1));
    if (out[out.length - 1] !== i) out.push(i);
  }
  return out;
}

/** Contiguous runs [start, end] (indices, inclusive) where predicted[i] === label. */
export function correctRuns(predicted: readonly number[], label: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= predicted.length; i++) {
    const ok = i < predicted.length && predicted[i] === label;
    if (ok && start < 0) start = i;
    if (!ok && start >= 0) {
      runs.push([start, i - 1]);
      start = -1;
    }
  }
  return runs;
}
