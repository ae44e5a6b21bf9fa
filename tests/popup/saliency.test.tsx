// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { saliencyMapFromJacobian } from '../../src/background/saliency-map';
import { App } from '../../src/popup/App';
import { createMockConnector, type MockConnectorOptions } from '../../src/popup/mock-connector';
import { mockJacobian, mockSaliency } from '../../src/popup/mock-saliency';
import { rampColour } from '../../src/popup/heatmap';
import { distanceBars, SALIENCY_BOX, saliencyCells } from '../../src/popup/saliency-chart';

afterEach(() => cleanup());

async function openSaliency(opts: MockConnectorOptions = {}) {
  const conn = createMockConnector(opts);
  render(<App connector={conn} lab={conn} pollMs={10} />);
  fireEvent.click(await screen.findByTestId('lab-tab-saliency'));
  return conn;
}

describe('saliency map: definition and geometry', () => {
  it('S is ∂Z_t·|Σ others| where the target rises and the others fall, else 0', () => {
    // 3 classes, 4 features: rows ∂Z_c/∂x.
    const jac = [
      /* c0 */ 1, 1, -1, 2,
      /* c1 */ -2, 1, 0, 0,
      /* c2 */ 0, -3, 0, -1,
    ];
    expect(Array.from(saliencyMapFromJacobian(jac, 3, 0))).toEqual([2, 2, 0, 2]);
    expect(Array.from(saliencyMapFromJacobian(jac, 3, 1))).toEqual([0, 2, 0, 0]);
    expect(() => saliencyMapFromJacobian(jac, 3, 3)).toThrow(/target/);
    expect(() => saliencyMapFromJacobian([1, 2, 3], 2, 0)).toThrow(/rows/);
  });

  it('heatmap cells are the positive values coloured by value / max; bars are A(X, t) of the track', () => {
    const { cells, max, side } = saliencyCells([0, 2, 4, -1, Number.NaN, 1], 3, 2, 10);
    expect(max).toBe(4);
    expect(cells.map((c) => c.i)).toEqual([1, 2, 5]);
    expect(cells[1]).toMatchObject({ x: 20, y: 0 });
    expect(cells[2]).toMatchObject({ x: 20, y: 10 });
    expect(side).toEqual({ width: 30, height: 20 });
    expect(cells[1].fill).toBe(rampColour(1));
    expect(cells[2].fill).toBe(rampColour(Math.sqrt(1 / 4)));
    const { bars } = distanceBars([{ target: 1, distance: 0.5 }, { target: 2, distance: 2 }]);
    expect(bars[0].barWidth).toBeCloseTo(0.5 * bars[0].trackWidth);
    expect(bars[1].barWidth).toBe(bars[1].trackWidth);
    expect(bars[1].y).toBe(SALIENCY_BOX.rowHeight + SALIENCY_BOX.gap);
  });
});

describe('lab: JSMA saliency map for this image (mock connector)', () => {
  it('offers the 9 other classes, sends the chosen target and draws its map and the 9 distances', async () => {
    const conn = await openSaliency();
    const r = conn.doneState().result!;
    const select = screen.getByTestId('saliency-target') as HTMLSelectElement;
    const options = Array.from(select.options).map((o) => Number(o.value));
    expect(options).toHaveLength(9);
    expect(options).not.toContain(r.prediction.label);
    const target = options[3];
    fireEvent.change(select, { target: { value: String(target) } });
    fireEvent.click(screen.getByTestId('lab-run-saliency'));
    const fig = await screen.findByTestId('saliency');
    expect(conn.calls.filter((c) => c.method === 'saliency')).toEqual([{ method: 'saliency', target }]);
    expect(fig.getAttribute('data-target')).toBe(String(target));
    const want = mockSaliency(r, target);
    // One coloured cell per pixel with S > 0 (plus the background rect).
    expect(screen.getByTestId('saliency-map').querySelectorAll('rect')).toHaveLength(want.positive + 1);
    expect(screen.getByTestId('saliency-positive').textContent).toBe(String(want.positive));
    expect(want.positive).toBeGreaterThan(0);
    for (const d of want.distances) {
      expect(Number(screen.getByTestId(`distance-${d.target}`).getAttribute('data-value'))).toBe(d.distance);
    }
    expect(screen.getByTestId(`distance-${target}`).classList.contains('chosen')).toBe(true);
    // A(X, t) is the share of pixels with S(X, t) = 0.
    const chosen = want.distances.find((d) => d.target === target)!;
    expect(chosen.distance).toBeCloseTo(1 - want.positive / want.map.length, 12);
    expect(Array.from(saliencyMapFromJacobian(mockJacobian(), 10, target))).toEqual(want.map);
  });

  it('progress while it runs and Cancel', async () => {
    const conn = await openSaliency({ labPolls: Infinity });
    fireEvent.click(screen.getByTestId('lab-run-saliency'));
    await screen.findByTestId('lab-progress');
    await waitFor(() => expect(screen.getByTestId('lab-phase').textContent).toMatch(/step/));
    fireEvent.click(screen.getByTestId('lab-cancel'));
    await waitFor(() => expect(screen.getByTestId('lab-notice').textContent).toBe('Cancelled'));
    expect(conn.calls.some((c) => c.method === 'cancelLab')).toBe(true);
    expect(screen.queryByTestId('saliency')).toBeNull();
  });

  it('the mock refuses the predicted class and out-of-range targets with BAD_INPUT', () => {
    const r = createMockConnector().doneState().result!;
    expect(() => mockSaliency(r, r.prediction.label)).toThrow(/another target/);
    expect(() => mockSaliency(r, 10)).toThrow(/classes/);
  });
});
