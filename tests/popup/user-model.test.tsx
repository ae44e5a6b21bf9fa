// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/popup/App';
import { MOBILENET_NOTE } from '../../src/popup/mobilenet-note';
import { createMockConnector, type MockConnector } from '../../src/popup/mock-connector';
import { formatPercent } from '../../src/popup/format';

/** The "Your model" tab on the mock connector: the form's checks, MobileNet's consent, progress, results, errors. */
afterEach(() => cleanup());

async function openTab(opts: Parameters<typeof createMockConnector>[0] = {}): Promise<MockConnector> {
  const conn = createMockConnector(opts);
  render(<App connector={conn} lab={conn} pollMs={10} />);
  await screen.findByTestId('lab');
  fireEvent.click(screen.getByTestId('lab-tab-user-model'));
  return conn;
}

const panel = () => within(screen.getByTestId('lab-panel-user-model'));
const userCalls = (c: MockConnector) => c.calls.filter((x) => x.method === 'userModel');
const type = (id: string, value: string) => fireEvent.input(panel().getByTestId(id), { target: { value } });

describe('lab: your model', () => {
  it('a wrong form says what is wrong (with its code) and sends nothing', async () => {
    const conn = await openTab();
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    const err = panel().getByTestId('uf-error');
    expect(err.getAttribute('data-code')).toBe('BAD_INPUT');
    expect(err.textContent).toContain('Model URL');
    type('uf-url', 'https://example.test/m/model.json');
    type('uf-height', 'x');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    expect(panel().getByTestId('uf-error').textContent).toContain('Height: a number is needed');
    type('uf-height', '28');
    type('uf-classNames', 'one');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    expect(panel().getByTestId('uf-error').textContent).toContain('classNames must list 2');
    expect(userCalls(conn)).toHaveLength(0);
  });

  it('a valid form sends the URL and the checked description; the result shows the top classes clean and adversarial', async () => {
    const conn = await openTab();
    type('uf-url', 'http://127.0.0.1:9/digits/model.json');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    await panel().findByTestId('user-model-result');
    const sent = userCalls(conn)[0];
    expect(sent.method === 'userModel' && sent.source.kind === 'url' && sent.source.url).toBe('http://127.0.0.1:9/digits/model.json');
    if (sent.method === 'userModel' && sent.source.kind === 'url') {
      expect(sent.source.spec).toMatchObject({ id: 'user:digits', inputShape: [28, 28, 1], output: 'logits', preprocess: 'mnist' });
      expect(sent.source.spec.classNames).toHaveLength(10);
    }
    expect(panel().getByTestId('uf-error').getAttribute('data-code')).toBe('');
    const r = conn.doneState().result!;
    const first = panel().getByTestId('um-clean').querySelector('li')!;
    expect(first.textContent).toContain(formatPercent(Math.max(...r.prediction.probs)));
    expect(panel().getByTestId('um-success').textContent).toBe(r.attack.success ? 'fooled' : 'not fooled');
  });

  it('a model by URL: the browser is asked to allow its host first; refused, nothing is downloaded', async () => {
    const conn = await openTab();
    type('uf-url', 'http://127.0.0.1:9/digits/model.json');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    // Asked inside the click itself (Firefox honours the user gesture only in the click's own call stack).
    expect(conn.calls.some((c) => c.method === 'requestAccess')).toBe(true);
    await panel().findByTestId('user-model-result');
    const order = conn.calls.filter((c) => c.method === 'requestAccess' || c.method === 'userModel').map((c) => c.method);
    expect(order).toEqual(['requestAccess', 'userModel']);
    expect(conn.calls.find((c) => c.method === 'requestAccess')).toEqual({ method: 'requestAccess', origins: ['http://127.0.0.1/*'] });
    cleanup();

    const refused = await openTab({ access: 'deny' });
    type('uf-url', 'https://models.example.net/digits/model.json');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    const shown = await screen.findByText(/not allowed to read it there/);
    expect(shown.textContent).toContain('models.example.net');
    expect(userCalls(refused)).toHaveLength(0);
  });

  it('a description the model does not fit: the background’s BAD_INPUT with its code', async () => {
    await openTab();
    type('uf-url', 'http://127.0.0.1:9/digits/model.json');
    type('uf-channels', '3');
    fireEvent.change(panel().getByTestId('uf-channels'), { target: { value: '3' } });
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    const err = await panel().findByTestId('lab-error');
    expect(err.getAttribute('data-code')).toBe('BAD_INPUT');
    expect(err.textContent).toContain('not [batch, 28, 28, 3]');
  });

  it('MobileNet: the size and source note; nothing is requested until the user agrees', async () => {
    const conn = await openTab();
    expect(panel().getByTestId('mobilenet-note').textContent).toBe(MOBILENET_NOTE);
    const button = panel().getByTestId('mobilenet-run') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.click(button);
    expect(userCalls(conn)).toHaveLength(0);
    fireEvent.click(panel().getByTestId('mobilenet-consent'));
    await waitFor(() => expect(button.disabled).toBe(false));
    fireEvent.click(button);
    await waitFor(() => expect(userCalls(conn)).toHaveLength(1));
    const sent = userCalls(conn)[0];
    expect(sent.method === 'userModel' ? sent.source : null).toEqual({ kind: 'mobilenet', consent: true });
    // The mock downloads nothing: a clear error with its code.
    expect((await panel().findByTestId('lab-error')).getAttribute('data-code')).toBe('MODEL_LOAD_FAILED');
  });

  it('progress and Cancel while the model loads', async () => {
    const conn = await openTab({ labPolls: Infinity });
    type('uf-url', 'http://127.0.0.1:9/digits/model.json');
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    await screen.findByTestId('lab-progress');
    expect((panel().getByTestId('lab-run-user-model') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('lab-cancel'));
    await waitFor(() => expect(conn.calls.some((c) => c.method === 'cancelLab')).toBe(true));
    expect(screen.getByTestId('lab-notice').textContent).toBe('Cancelled');
    expect(panel().queryByTestId('user-model-result')).toBeNull();
  });
});

describe('lab: your model from files', () => {
  const file = (name: string, text: string | Uint8Array): File => new File([typeof text === 'string' ? text : (text as Uint8Array<ArrayBuffer>)], name);
  const modelJson = JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: ['w.bin'], weights: [] }] });

  it('picked files are checked, stored through the connector, and the run names them (format read from the model.json)', async () => {
    const conn = await openTab();
    const input = panel().getByTestId('uf-files') as HTMLInputElement;
    // Two .json files: refused before anything is stored.
    fireEvent.change(input, { target: { files: [file('a.json', modelJson), file('b.json', modelJson)] } });
    await waitFor(() => expect(panel().getByTestId('uf-error').textContent).toContain('not 2 .json files'));
    expect(conn.calls.some((c) => c.method === 'storeModelFiles')).toBe(false);
    // A .json that is not a tfjs model.json.
    fireEvent.change(input, { target: { files: [file('model.json', '{"a":1}'), file('w.bin', new Uint8Array(8))] } });
    await waitFor(() => expect(panel().getByTestId('uf-error').textContent).toContain('not a tfjs model.json'));
    // A good set: stored, shown instead of the URL field, the format switched to the model.json's.
    fireEvent.change(input, { target: { files: [file('digits.json', modelJson), file('w.bin', new Uint8Array(8))] } });
    const picked = await panel().findByTestId('uf-picked');
    expect(picked.getAttribute('data-count')).toBe('2');
    expect(picked.textContent).toContain('digits.json');
    expect(panel().queryByTestId('uf-url')).toBeNull();
    expect((panel().getByTestId('uf-format') as HTMLSelectElement).value).toBe('graph');
    expect(panel().getByTestId('uf-error').getAttribute('data-code')).toBe('');
    const stored = conn.calls.find((c) => c.method === 'storeModelFiles');
    expect(stored?.method === 'storeModelFiles' && stored.names).toEqual(['digits.json', 'w.bin']);
    fireEvent.click(panel().getByTestId('lab-run-user-model'));
    await waitFor(() => expect(userCalls(conn)).toHaveLength(1));
    const sent = userCalls(conn)[0];
    expect(sent.method === 'userModel' && sent.source.kind).toBe('files');
    if (sent.method === 'userModel' && sent.source.kind === 'files') {
      expect(sent.source.name).toBe('digits.json');
      expect(sent.source.key).toMatch(/^[0-9a-f]{32}$/);
      expect(sent.source.spec).toMatchObject({ id: 'user:digits', format: 'graph', inputShape: [28, 28, 1] });
    }
    // The mock's digit model takes MNIST-style centring: no full-resolution export, said so.
    await panel().findByTestId('user-model-result');
    expect(panel().getByTestId('user-export-unavailable').textContent).toContain('photo models');
    // Back to a URL.
    fireEvent.click(panel().getByTestId('uf-files-clear'));
    expect(panel().getByTestId('uf-url')).toBeTruthy();
  });
});
