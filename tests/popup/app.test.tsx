// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import type { ProbeState } from '../../src/protocol/types';
import { App } from '../../src/popup/App';
import type { Connector } from '../../src/popup/connector';
import { formatDistance, formatPercent } from '../../src/popup/format';
import { createMockConnector } from '../../src/popup/mock-connector';

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function text(testId: string): string {
  return screen.getByTestId(testId).textContent ?? '';
}

function doneResult(s: ProbeState | null) {
  if (!s || s.status !== 'done' || !s.result) throw new Error('expected a done state');
  return s.result;
}

describe('App: done state', () => {
  it('renders the prediction, the attack outcome and the footer from the state', async () => {
    const conn = createMockConnector({ status: 'done', digit: 7, backend: 'webgpu' });
    render(<App connector={conn} />);
    await screen.findByTestId('prediction');
    const r = doneResult(conn.lastState());

    expect(text('prediction')).toBe(r.prediction.className);
    expect(text('prediction')).toBe('7');
    expect(text('confidence')).toBe(formatPercent(r.prediction.probs[r.prediction.label]));
    expect(text('confidence')).toMatch(/^\d{1,3}\.\d%$/);

    const adv = r.attack.prediction;
    expect(r.attack.choice.attack).toBe('fgsm');
    expect(text('shown-attack')).toBe('Fast Gradient Sign Method');
    expect(text('adv-prediction')).toBe(adv.className);
    expect(text('adv-confidence')).toBe(`${(adv.probs[adv.label] * 100).toFixed(1)}%`);
    expect(text('success')).toBe(r.attack.success ? 'fooled' : 'not fooled');
    expect(text('linf')).toBe(r.attack.distances.linf.toFixed(3));
    expect(text('l2')).toBe(r.attack.distances.l2.toFixed(3));
    expect(text('l0')).toBe(String(r.attack.distances.l0));
    expect(text('ms')).toMatch(/ms$/);
    expect(text('backend')).toBe('webgpu');
    expect(text('model-id')).toBe(r.modelId);
    expect(text('source-url')).toBe(r.source.srcUrl);

    // Bars for every class, clean and adversarial, the predicted one highlighted.
    for (let i = 0; i < r.classNames.length; i++) {
      expect(screen.getByTestId(`bars-${i}`).textContent).toContain(formatPercent(r.prediction.probs[i]));
      expect(screen.getByTestId(`adv-bars-${i}`).textContent).toContain(formatPercent(adv.probs[i]));
    }
    expect(screen.getByTestId(`bars-${r.prediction.label}`).className).toContain('top');
    expect(screen.getByTestId(`adv-bars-${adv.label}`).className).toContain('top');

    // Three images plus the model's view; the perturbation's amplification is labelled.
    expect(document.querySelectorAll('canvas')).toHaveLength(4);
    expect(text('perturbation-label')).toMatch(/^perturbation ×\d+(\.\d)?$/);

    // The attack select, ε field and slider, and target reflect the outcome's choice.
    expect((screen.getByTestId('attack') as HTMLSelectElement).value).toBe('fgsm');
    const eps = screen.getByTestId('param-eps') as HTMLInputElement;
    expect(eps.type).toBe('number');
    expect(eps.min).toBe('0');
    expect(eps.max).toBe('1');
    expect(eps.step).toBe('0.01');
    expect(Number(eps.value)).toBeCloseTo(Number(r.attack.choice.params.eps));
    expect(Number(eps.value)).toBe(0.1);
    const range = screen.getByTestId('param-eps-range') as HTMLInputElement;
    expect(range.type).toBe('range');
    expect(Number(range.value)).toBe(0.1);
    expect((screen.getByTestId('param-norm') as HTMLSelectElement).value).toBe('inf');
    expect((screen.getByTestId('target') as HTMLSelectElement).value).toBe('');
    expect(screen.queryByTestId('trace')).toBeNull();
    expect(screen.queryByTestId('vae-panel')).toBeNull();
    expect(screen.queryByTestId('changed-pixels')).toBeNull();
    expect(screen.queryByTestId('progress')).toBeNull();
    expect(screen.queryByTestId('cancel')).toBeNull();
  });

  it('notes an inverted image', async () => {
    render(<App connector={createMockConnector({ inverted: true })} />);
    expect((await screen.findByTestId('inverted')).textContent).toBe('colours inverted: light background');
  });

  it('draws on the canvas when a 2D context exists', async () => {
    const putImageData = vi.fn();
    const createImageData = (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) });
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(
      // getContext is overloaded per context kind; the stub stands in for a 2D context.
      () => ({ putImageData, createImageData }) as never,
    );
    render(<App connector={createMockConnector()} />);
    await screen.findByTestId('prediction');
    await waitFor(() => expect(putImageData).toHaveBeenCalledTimes(4));
    const first = putImageData.mock.calls[0][0] as { width: number; height: number; data: Uint8ClampedArray };
    expect(first.width).toBe(28);
    expect(first.height).toBe(28);
    expect(first.data[3]).toBe(255);
  });
});

describe('App: other states', () => {
  it('shows the instruction when idle', async () => {
    render(<App connector={createMockConnector({ status: 'idle' })} />);
    const idle = await screen.findByTestId('idle');
    expect(idle.textContent).toContain('Right-click an image on a page and choose “Probe this image”.');
  });

  it('shows the error view with its code', async () => {
    const conn = createMockConnector({
      status: 'error',
      error: { code: 'CROSS_ORIGIN_BLOCKED', message: 'The page does not allow reading this image.' },
    });
    render(<App connector={conn} />);
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('CROSS_ORIGIN_BLOCKED');
    expect(err.textContent).toContain('The page does not allow reading this image.');
    expect(text('error-code')).toBe('CROSS_ORIGIN_BLOCKED');
    expect(screen.queryByTestId('prediction')).toBeNull();
  });

  it('shows the running stage, polls every 250 ms, then renders the result', async () => {
    const conn = createMockConnector({ status: 'running', runningPolls: 2 });
    render(<App connector={conn} />);
    const status = await screen.findByTestId('status');
    expect(status.textContent).toContain('capturing');
    await waitFor(() => expect(screen.getByTestId('status').textContent).toContain('classifying'), { timeout: 1000 });
    await screen.findByTestId('prediction', {}, { timeout: 2000 });
    expect(screen.queryByTestId('status')).toBeNull();
    const n = conn.calls.filter((c) => c.method === 'getState').length;
    expect(n).toBe(3);
    // Polling stopped once done.
    await new Promise((r) => setTimeout(r, 400));
    expect(conn.calls.filter((c) => c.method === 'getState').length).toBe(n);
  });

  it('polls on a 250 ms timer and stops on unmount', async () => {
    vi.useFakeTimers();
    try {
      const conn = createMockConnector({ status: 'running' });
      const { unmount } = render(<App connector={conn} />);
      const count = () => conn.calls.filter((c) => c.method === 'getState').length;
      await vi.advanceTimersByTimeAsync(0);
      expect(count()).toBe(1);
      // Preact runs effects after paint, so a poll comes 250 ms plus a frame after each answer.
      await vi.advanceTimersByTimeAsync(200);
      expect(count()).toBe(1);
      await vi.advanceTimersByTimeAsync(200);
      expect(count()).toBe(2);
      await vi.advanceTimersByTimeAsync(1000);
      expect(count()).toBeGreaterThanOrEqual(4);
      expect(count()).toBeLessThanOrEqual(6);
      const atUnmount = count();
      unmount();
      await vi.advanceTimersByTimeAsync(2000);
      expect(count()).toBe(atUnmount);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('App: attack controls', () => {
  it('ε and the target are sent on Run (not on input) and the new outcome is shown', async () => {
    const conn = createMockConnector({ latencyMs: 20 });
    render(<App connector={conn} />);
    await screen.findByTestId('prediction');
    const before = doneResult(conn.lastState());
    expect(text('linf')).toBe(formatDistance(before.attack.distances.linf));

    fireEvent.input(screen.getByTestId('param-eps-range'), { target: { value: '0.25' } });
    expect((screen.getByTestId('param-eps') as HTMLInputElement).value).toBe('0.25');
    fireEvent.change(screen.getByTestId('target'), { target: { value: '2' } });
    expect(conn.calls.filter((c) => c.method === 'runAttack')).toHaveLength(0);
    fireEvent.click(screen.getByTestId('run-attack'));

    expect(conn.calls).toContainEqual({
      method: 'runAttack',
      choice: { attack: 'fgsm', params: { eps: 0.25, norm: 'inf' }, target: 2, modelId: before.modelId },
    });
    // Controls are disabled while it runs.
    await waitFor(() => expect((screen.getByTestId('param-eps') as HTMLInputElement).disabled).toBe(true));
    expect((screen.getByTestId('attack') as HTMLSelectElement).disabled).toBe(true);
    expect((screen.getByTestId('target') as HTMLSelectElement).disabled).toBe(true);
    expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(true);

    await waitFor(() => expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(false));
    const after = doneResult(conn.lastState());
    expect(after.attack.choice).toEqual({ attack: 'fgsm', params: { eps: 0.25, norm: 'inf' }, target: 2 });
    expect(text('linf')).toBe(formatDistance(after.attack.distances.linf));
    expect(text('linf')).toBe('0.250');
    expect(text('success')).toBe(after.attack.success ? 'fooled' : 'not fooled');
    expect(text('adv-prediction')).toBe(after.attack.prediction.className);
    expect((screen.getByTestId('target') as HTMLSelectElement).value).toBe('2');
    expect(text('shown-params')).toContain('ε 0.25');

    // Run again with the same settings, then untargeted.
    fireEvent.click(screen.getByTestId('run-attack'));
    await waitFor(() => expect(conn.calls.filter((c) => c.method === 'runAttack')).toHaveLength(2));
    await waitFor(() => expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(false));
    fireEvent.change(screen.getByTestId('target'), { target: { value: '' } });
    fireEvent.click(screen.getByTestId('run-attack'));
    await waitFor(() =>
      expect(conn.calls.at(-1)).toEqual({
        method: 'runAttack',
        choice: { attack: 'fgsm', params: { eps: 0.25, norm: 'inf' }, target: null, modelId: before.modelId },
      }),
    );
  });
});

describe('App: failures never throw', () => {
  function throwingConnector(value: unknown, method: 'getState' | 'runAttack' = 'getState'): Connector {
    return createMockConnector({ throws: { [method]: value } });
  }

  it('a ProbeError from getState becomes the error view with its code', async () => {
    render(<App connector={throwingConnector(new ProbeError('MODEL_LOAD_FAILED', 'model.json: 404'))} />);
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('MODEL_LOAD_FAILED');
    expect(err.textContent).toContain('model.json: 404');
  });

  it('a plain Error becomes INTERNAL; an Error with a string .code keeps it', async () => {
    render(<App connector={throwingConnector(new Error('boom'))} />);
    expect((await screen.findByTestId('error')).getAttribute('data-code')).toBe('INTERNAL');
    cleanup();
    render(<App connector={throwingConnector(Object.assign(new Error('slow'), { code: 'TIMEOUT' }))} />);
    expect((await screen.findByTestId('error')).getAttribute('data-code')).toBe('TIMEOUT');
    cleanup();
    render(<App connector={throwingConnector(Object.assign(new Error('n'), { code: 42 }))} />);
    expect((await screen.findByTestId('error')).getAttribute('data-code')).toBe('INTERNAL');
    cleanup();
    render(<App connector={throwingConnector('just a string')} />);
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('INTERNAL');
    expect(err.textContent).toContain('just a string');
  });

  it('a synchronous throw and a malformed state are errors too', async () => {
    const sync: Connector = {
      getState: () => {
        throw new ProbeError('BACKEND_FAILED', 'no backend');
      },
      runAttack: () => Promise.reject(new Error('unused')),
      cancel: () => Promise.reject(new Error('unused')),
      listModels: () => Promise.resolve([]),
    };
    render(<App connector={sync} />);
    expect((await screen.findByTestId('error')).getAttribute('data-code')).toBe('BACKEND_FAILED');
    cleanup();
    const broken: Connector = {
      getState: () => Promise.resolve(undefined as unknown as ProbeState),
      runAttack: () => Promise.reject(new Error('unused')),
      cancel: () => Promise.reject(new Error('unused')),
      listModels: () => Promise.resolve([]),
    };
    render(<App connector={broken} />);
    expect((await screen.findByTestId('error')).getAttribute('data-code')).toBe('INTERNAL');
  });

  it('a throwing runAttack becomes the error view; Reload goes back to the result', async () => {
    const conn = createMockConnector({ throws: { runAttack: new ProbeError('BACKEND_FAILED', 'GPU lost') } });
    render(<App connector={conn} />);
    await screen.findByTestId('prediction');
    fireEvent.input(screen.getByTestId('param-eps'), { target: { value: '0.3' } });
    fireEvent.click(screen.getByTestId('run-attack'));
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('BACKEND_FAILED');
    expect(err.textContent).toContain('GPU lost');
    fireEvent.click(screen.getByTestId('retry'));
    await screen.findByTestId('prediction');
  });
});

describe('App: page text is text', () => {
  it('renders a hostile srcUrl and error message as text, creating no elements', async () => {
    const evil = 'https://evil.example/<img src=x onerror=alert(1)>.png';
    render(<App connector={createMockConnector({ srcUrl: evil })} />);
    await screen.findByTestId('prediction');
    expect(document.querySelector('img')).toBeNull();
    expect(text('source-url')).toBe(evil);
    expect(text('source-url')).toContain('<img');
    cleanup();

    const html = '<img src=x onerror=alert(1)><b>bold</b>';
    render(<App connector={createMockConnector({ status: 'error', error: { code: 'FETCH_FAILED', message: html } })} />);
    const err = await screen.findByTestId('error');
    expect(err.textContent).toContain(html);
    expect(document.querySelector('img')).toBeNull();
    expect(document.querySelector('b')).toBeNull();
  });

  it('truncates a long url in the middle but keeps it as text', async () => {
    const long = `https://example.com/${'a'.repeat(200)}/<svg onload=alert(1)>.png`;
    render(<App connector={createMockConnector({ srcUrl: long })} />);
    await screen.findByTestId('prediction');
    const shown = text('source-url');
    expect(shown.length).toBeLessThanOrEqual(56);
    expect(shown).toContain('…');
    expect(shown.endsWith('alert(1)>.png')).toBe(true);
    expect(document.querySelector('svg')).toBeNull();
  });

  it('a job stopped by a worker restart says why, beside the previous result; a plain cancel says only "Cancelled"', async () => {
    const why = 'The extension was restarted during this attack, so it was stopped: the previous result is shown. Run the attack again to resume.';
    const { unmount } = render(<App connector={createMockConnector({ status: 'done', doneError: { code: 'CANCELLED', message: why } })} />);
    expect((await screen.findByTestId('cancelled-why')).textContent?.trim()).toBe(why);
    unmount();
    render(<App connector={createMockConnector({ status: 'done', doneError: { code: 'CANCELLED', message: 'The attack was cancelled.' } })} />);
    expect((await screen.findByTestId('cancelled')).textContent).toBe('Cancelled — showing the previous result');
    expect(screen.queryByTestId('cancelled-why')).toBeNull();
  });

  it('an animated image says that only its first frame was analysed', async () => {
    const { unmount } = render(<App connector={createMockConnector({ status: 'done', firstFrameOnly: true })} />);
    expect((await screen.findByTestId('first-frame')).textContent).toContain('first frame analysed');
    unmount();
    render(<App connector={createMockConnector({ status: 'done' })} />);
    await screen.findByTestId('captured-by');
    expect(screen.queryByTestId('first-frame')).toBeNull();
  });
});

describe('App: browse-mode switch on the mock connector', () => {
  it('shows the current site, switches badges on and off through the connector, and hides on pages without an origin', async () => {
    const conn = createMockConnector({ status: 'done', pageUrl: 'https://digits.example.org/page' });
    render(<App connector={conn} />);
    const box = (await screen.findByTestId('browse-switch')) as HTMLInputElement;
    expect(screen.getByTestId('browse').textContent).toContain('https://digits.example.org');
    expect(box.checked).toBe(false);
    fireEvent.click(box);
    await waitFor(() => expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('true'));
    expect(conn.calls.filter((c) => c.method === 'setBrowseSite')).toEqual([{ method: 'setBrowseSite', enabled: true }]);
    fireEvent.click(screen.getByTestId('browse-switch'));
    await waitFor(() => expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('false'));
    cleanup();

    render(<App connector={createMockConnector({ status: 'done', browse: { origin: null, enabled: false } })} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('browse')).toBeNull();
  });

  it('a refused switch shows its message and leaves the state as it was', async () => {
    const conn = createMockConnector({ status: 'done', throws: { setBrowseSite: new ProbeError('UNSUPPORTED_PAGE', 'Browse mode works on web pages only.') } });
    render(<App connector={conn} />);
    fireEvent.click(await screen.findByTestId('browse-switch'));
    expect((await screen.findByTestId('browse-error')).textContent).toContain('web pages only');
    expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('false');
  });

  it('switching badges on asks the browser to allow the site first; a refusal leaves them off', async () => {
    const conn = createMockConnector({ status: 'done', pageUrl: 'https://digits.example.org:8443/page' });
    render(<App connector={conn} />);
    fireEvent.click(await screen.findByTestId('browse-switch'));
    // Asked inside the click itself (Firefox honours the user gesture only in the click's own call stack).
    expect(conn.calls.some((c) => c.method === 'requestAccess')).toBe(true);
    await waitFor(() => expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('true'));
    const asked = conn.calls.filter((c) => c.method === 'requestAccess' || c.method === 'setBrowseSite');
    // The permission is asked before the switch is stored, for the host's pattern (no port in match patterns).
    expect(asked).toEqual([{ method: 'requestAccess', origins: ['https://digits.example.org/*'] }, { method: 'setBrowseSite', enabled: true }]);
    // Switching off asks nothing.
    fireEvent.click(screen.getByTestId('browse-switch'));
    await waitFor(() => expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('false'));
    expect(conn.calls.filter((c) => c.method === 'requestAccess')).toHaveLength(1);
    cleanup();

    const refused = createMockConnector({ status: 'done', pageUrl: 'https://digits.example.org/page', access: 'deny' });
    render(<App connector={refused} />);
    fireEvent.click(await screen.findByTestId('browse-switch'));
    expect((await screen.findByTestId('browse-error')).textContent).toContain('not allowed');
    expect(screen.getByTestId('browse').getAttribute('data-enabled')).toBe('false');
    expect(refused.calls.some((c) => c.method === 'setBrowseSite')).toBe(false);
  });
});

describe('site access (NO_ACCESS)', () => {
  const needs = ['https://cdn.example.net/*', 'https://digits.example.org/*'];
  const error = { code: 'NO_ACCESS' as const, message: 'The extension may not read cdn.example.net yet.' };

  it('names the hosts, asks the browser for exactly those patterns and probes again once allowed', async () => {
    const conn = createMockConnector({ status: 'error', error, needsAccess: needs });
    render(<App connector={conn} />);
    const box = await screen.findByTestId('access');
    expect(box.getAttribute('data-hosts')).toBe('cdn.example.net digits.example.org');
    expect(screen.getByTestId('error').getAttribute('data-code')).toBe('NO_ACCESS');
    fireEvent.click(screen.getByTestId('grant-access'));
    // Asked inside the click itself (Firefox honours the user gesture only in the click's own call stack).
    expect(conn.calls.some((c) => c.method === 'requestAccess')).toBe(true);
    await screen.findByTestId('prediction');
    const order = conn.calls.filter((c) => c.method === 'requestAccess' || c.method === 'retry');
    expect(order).toEqual([{ method: 'requestAccess', origins: needs }, { method: 'retry' }]);
    expect(screen.queryByTestId('access')).toBeNull();
  });

  it('a refused prompt says nothing was read and does not probe again', async () => {
    const conn = createMockConnector({ status: 'error', error, needsAccess: needs, access: 'deny' });
    render(<App connector={conn} />);
    fireEvent.click(await screen.findByTestId('grant-access'));
    expect((await screen.findByTestId('grant-denied')).textContent).toContain('Not allowed');
    expect(conn.calls.some((c) => c.method === 'retry')).toBe(false);
    expect(screen.getByTestId('error').getAttribute('data-code')).toBe('NO_ACCESS');
  });

  it('other errors, and NO_ACCESS without hosts, show no grant button', async () => {
    render(<App connector={createMockConnector({ status: 'error' })} />);
    await screen.findByTestId('error');
    expect(screen.queryByTestId('access')).toBeNull();
    cleanup();
    render(<App connector={createMockConnector({ status: 'error', error })} />);
    await screen.findByTestId('error');
    expect(screen.queryByTestId('access')).toBeNull();
  });
});

describe('sites allowed', () => {
  it('lists the allowed host patterns readably and removes one through the connector; hidden when none', async () => {
    const conn = createMockConnector({ status: 'done', granted: ['https://b.example/*', '<all_urls>', 'http://a.example/*'] });
    render(<App connector={conn} />);
    const box = await screen.findByTestId('site-access');
    const items = () => screen.getAllByTestId('site-access-item');
    expect(items().map((li) => li.getAttribute('data-pattern'))).toEqual(['<all_urls>', 'http://a.example/*', 'https://b.example/*']);
    expect(items().map((li) => li.textContent)).toEqual(['every site Remove', 'a.example (http) Remove', 'b.example (https) Remove']);
    expect(box.textContent).toContain('(3)');
    fireEvent.click(screen.getAllByTestId('site-access-remove')[1]);
    await waitFor(() => expect(items()).toHaveLength(2));
    expect(conn.calls.filter((c) => c.method === 'removeAccess')).toEqual([{ method: 'removeAccess', origins: ['http://a.example/*'] }]);
    expect(screen.queryByText(/a\.example \(http\)/)).toBeNull();
    cleanup();

    render(<App connector={createMockConnector({ status: 'done' })} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('site-access')).toBeNull();
  });
});
