// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/popup/App';
import { createMockConnector } from '../../src/popup/mock-connector';

afterEach(cleanup);

function open(box: HTMLElement): void {
  (box as HTMLDetailsElement).open = true;
  fireEvent(box, new Event('toggle'));
}

function select(value: string): void {
  const s = screen.getByTestId('backend-select') as HTMLSelectElement;
  s.value = value;
  fireEvent.change(s);
}

describe('the compute backend setting', () => {
  it('asks the background only when opened, switches by name or back to automatic, and shows a refusal with its code', async () => {
    const conn = createMockConnector({ status: 'done', backend: 'wasm', unavailableBackends: ['webgl'] });
    render(<App connector={conn} />);
    await screen.findByTestId('prediction');
    const box = screen.getByTestId('backend-setting');
    expect(conn.calls.some((c) => c.method === 'getBackend')).toBe(false);

    open(box);
    await screen.findByTestId('backend-select');
    expect(screen.getByTestId('backend-current').textContent).toBe('wasm');
    expect(box.querySelector('summary')?.textContent).toContain('automatic');
    expect((screen.getByTestId('backend-select') as HTMLSelectElement).value).toBe('auto');
    expect(screen.getByTestId('backend-not-used').textContent).toContain('webgl not used: webgl does not work here');

    select('cpu');
    await waitFor(() => expect(screen.getByTestId('backend-current').textContent).toBe('cpu'));
    expect(box.querySelector('summary')?.textContent).toContain('chosen');
    expect(conn.calls.filter((c) => c.method === 'setBackend')).toEqual([{ method: 'setBackend', backend: 'cpu' }]);
    // A later attack runs on it (the mock's results carry the backend).
    fireEvent.click(screen.getByTestId('run-attack'));
    await waitFor(() => expect(conn.lastState()?.result?.backend).toBe('cpu'));

    select('webgl');
    const alert = await screen.findByTestId('backend-error');
    expect(alert.getAttribute('data-code')).toBe('BACKEND_FAILED');
    expect(alert.textContent).toContain('webgl does not work here');
    await waitFor(() => expect((screen.getByTestId('backend-select') as HTMLSelectElement).value).toBe('cpu'));
    expect(screen.getByTestId('backend-current').textContent).toBe('cpu');

    select('auto');
    await waitFor(() => expect(screen.getByTestId('backend-current').textContent).toBe('wasm'));
    expect(screen.queryByTestId('backend-error')).toBeNull();
    expect(conn.calls.filter((c) => c.method === 'setBackend').map((c) => (c as { backend: unknown }).backend)).toEqual(['cpu', 'webgl', null]);
  });

  it('is absent for a connector without the setting', async () => {
    const conn = createMockConnector({ status: 'done' });
    const { getBackend: _g, setBackend: _s, ...rest } = conn;
    render(<App connector={rest} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('backend-setting')).toBeNull();
  });
});
