import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/protocol/messages';
import { parseMessage } from '../../src/protocol/messages';
import type { ProbeState } from '../../src/protocol/types';
import { createRuntimeConnector, unwrapReply } from '../../src/popup/runtime-connector';
import { resolveTabId, tabIdFromSearch } from '../../src/popup/tab-id';

const idle: ProbeState = { status: 'idle', job: 0, tabId: 7, backend: null, modelId: 'mnist-cnn', result: null, error: null, stage: null, progress: null };

function fakeSend(reply: unknown) {
  const sent: Envelope[] = [];
  const send = async (e: Envelope): Promise<unknown> => {
    sent.push(e);
    return typeof reply === 'function' ? (reply as (e: Envelope) => unknown)(e) : reply;
  };
  return { sent, send };
}

async function codeOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: unknown }).code;
  }
  throw new Error('expected a rejection');
}

describe('createRuntimeConnector', () => {
  it('retry is a validated probe/retry for this tab; requestAccess asks the browser for exactly the patterns', async () => {
    const { sent, send } = fakeSend({ ok: true, data: idle });
    const asked: string[][] = [];
    const c = createRuntimeConnector(7, send, async (origins) => {
      asked.push(origins);
      return origins.length === 1;
    });
    expect((await c.retry()).status).toBe('idle');
    expect(sent).toEqual([{ type: 'probe/retry', payload: { tabId: 7 } }]);
    expect(parseMessage(sent[0])).toEqual(sent[0]);
    // The browser is asked synchronously, inside the caller's click (no await before it).
    const pending = c.requestAccess(['https://a.example/*']);
    expect(asked).toHaveLength(1);
    expect(await pending).toBe(true);
    expect(await c.requestAccess(['https://a.example/*', 'https://b.example/*'])).toBe(false);
    expect(asked).toEqual([['https://a.example/*'], ['https://a.example/*', 'https://b.example/*']]);
    // The browser refusing to ask at all (no user gesture) is a coded error, not a crash.
    const d = createRuntimeConnector(7, send, async () => {
      throw new Error('This function must be called during a user gesture');
    });
    expect(await codeOf(d.requestAccess(['https://a.example/*']))).toBe('NO_ACCESS');
  });

  it('the backend setting is probe/get-backend and probe/set-backend (null: automatic), validated; a refusal keeps its code', async () => {
    const view = { backend: 'wasm', preference: null, notUsed: [], measured: [] };
    const { sent, send } = fakeSend((e: Envelope) =>
      e.type === 'probe/set-backend' && (e.payload as { backend: unknown }).backend === 'webgl' ? { ok: false, error: { code: 'BACKEND_FAILED', message: 'no WebGL' } } : { ok: true, data: view },
    );
    const c = createRuntimeConnector(7, send);
    expect(await c.getBackend()).toEqual(view);
    expect(await c.setBackend(null)).toEqual(view);
    expect(await codeOf(c.setBackend('webgl'))).toBe('BACKEND_FAILED');
    expect(sent).toEqual([
      { type: 'probe/get-backend', payload: {} },
      { type: 'probe/set-backend', payload: { backend: null } },
      { type: 'probe/set-backend', payload: { backend: 'webgl' } },
    ]);
    for (const e of sent) expect(parseMessage(e)).toEqual(e);
  });

  it('lab requests are typed envelopes the background validator accepts, for this tab', async () => {
    const { sent, send } = fakeSend({ ok: true, data: { kind: null, done: 0, total: 0, phase: null } });
    const c = createRuntimeConnector(7, send);
    await c.defend();
    await c.sweep({ maxEps: 0.5, points: 41 });
    await c.transfer();
    await c.labProgress();
    await c.cancelLab();
    expect(sent.map((e) => e.type)).toEqual(['probe/defenses', 'probe/sweep', 'probe/transfer', 'probe/lab-progress', 'probe/lab-cancel']);
    for (const e of sent) expect(parseMessage(e)).toEqual(e);
    expect(sent[1].payload).toEqual({ tabId: 7, maxEps: 0.5, points: 41 });
    // A background error keeps its stable code.
    const failing = createRuntimeConnector(7, fakeSend({ ok: false, error: { code: 'NO_RESULT', message: 'Probe an image first.' } }).send);
    expect(await codeOf(failing.defend())).toBe('NO_RESULT');
  });

  it('sends typed envelopes that the background validator accepts', async () => {
    const { sent, send } = fakeSend({ ok: true, data: idle });
    const c = createRuntimeConnector(7, send);
    await c.getState();
    await c.runAttack({ attack: 'bim', params: { eps: 0.2, stepSize: 0.01, steps: 10, norm: 'inf', randomStart: true }, target: 3, modelId: 'mnist-cnn' });
    await c.cancel();
    await c.listModels();
    expect(sent).toEqual([
      { type: 'probe/get-state', payload: { tabId: 7 } },
      {
        type: 'probe/run-attack',
        payload: { tabId: 7, modelId: 'mnist-cnn', attack: 'bim', params: { eps: 0.2, stepSize: 0.01, steps: 10, norm: 'inf', randomStart: true }, target: 3 },
      },
      { type: 'probe/cancel', payload: { tabId: 7 } },
      { type: 'probe/list-models', payload: {} },
    ]);
    for (const e of sent) expect(parseMessage(e)).toEqual(e);
  });

  it('sends tabId null when the tab is unknown', async () => {
    const { sent, send } = fakeSend({ ok: true, data: idle });
    const c = createRuntimeConnector(null, send);
    await c.runAttack({ attack: 'fgsm', params: { eps: 0, norm: 'inf' }, target: null, modelId: 'm' });
    await c.cancel();
    expect(sent).toEqual([
      { type: 'probe/run-attack', payload: { tabId: null, modelId: 'm', attack: 'fgsm', params: { eps: 0, norm: 'inf' }, target: null } },
      { type: 'probe/cancel', payload: { tabId: null } },
    ]);
  });

  it('unwraps ok:true replies', async () => {
    const { send } = fakeSend({ ok: true, data: idle });
    expect(await createRuntimeConnector(7, send).getState()).toEqual(idle);
    const models = [{ id: 'a', title: 'A', dataset: 'mnist', testAccuracy: 0.99 }];
    expect(await createRuntimeConnector(7, fakeSend({ ok: true, data: models }).send).listModels()).toEqual(models);
  });

  it('throws an Error with the code of an ok:false reply', async () => {
    const { send } = fakeSend({ ok: false, error: { code: 'NO_RESULT', message: 'nothing yet' } });
    const p = createRuntimeConnector(7, send).getState();
    await expect(p).rejects.toThrow('nothing yet');
    expect(await codeOf(createRuntimeConnector(7, send).getState())).toBe('NO_RESULT');
    const unknown = fakeSend({ ok: false, error: { code: 'WHAT', message: 'x' } });
    expect(await codeOf(createRuntimeConnector(7, unknown.send).getState())).toBe('INTERNAL');
  });

  it('a missing reply (background asleep), a rejection or a malformed reply is INTERNAL', async () => {
    for (const reply of [undefined, null, 'yes', [], { data: idle }, { ok: 'true', data: idle }, { ok: true }]) {
      const e = await createRuntimeConnector(1, fakeSend(reply).send)
        .getState()
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(e).toBeInstanceOf(Error);
      expect((e as { code?: unknown }).code).toBe('INTERNAL');
    }
    const rejecting = async (): Promise<unknown> => {
      throw new Error('Could not establish connection. Receiving end does not exist.');
    };
    const p = createRuntimeConnector(1, rejecting).getState();
    await expect(p).rejects.toThrow(/Receiving end does not exist/);
    expect(await codeOf(createRuntimeConnector(1, rejecting).getState())).toBe('INTERNAL');
  });

  it('retries once when the service worker was stopped under the message, and only then', async () => {
    let calls = 0;
    const flaky = async (): Promise<unknown> => {
      calls++;
      if (calls === 1) throw new Error('Could not establish connection. Receiving end does not exist.');
      return { ok: true, data: idle };
    };
    expect(await createRuntimeConnector(1, flaky).getState()).toEqual(idle);
    expect(calls).toBe(2);
    let other = 0;
    const broken = async (): Promise<unknown> => {
      other++;
      throw new Error('Extension context invalidated.');
    };
    expect(await codeOf(createRuntimeConnector(1, broken).getState())).toBe('INTERNAL');
    expect(other).toBe(1);
  });

  it('unwrapReply is usable on its own', () => {
    expect(unwrapReply<'probe/list-models'>({ ok: true, data: [] })).toEqual([]);
    expect(() => unwrapReply<'probe/get-state'>(undefined)).toThrow(/No reply/);
  });
});

describe('tab id', () => {
  it('reads ?tab=<id>', () => {
    expect(tabIdFromSearch('?tab=42')).toBe(42);
    expect(tabIdFromSearch('?x=1&tab=0')).toBe(0);
    expect(tabIdFromSearch('')).toBeNull();
    expect(tabIdFromSearch('?tab=')).toBeNull();
    expect(tabIdFromSearch('?tab=-1')).toBeNull();
    expect(tabIdFromSearch('?tab=1.5')).toBeNull();
    expect(tabIdFromSearch('?tab=abc')).toBeNull();
    expect(tabIdFromSearch('?tab=99999999999999999999')).toBeNull();
  });

  it('falls back to the active tab, then null', async () => {
    expect(await resolveTabId('?tab=5', async () => [{ id: 9 }])).toBe(5);
    expect(await resolveTabId('', async () => [{ id: 9 }])).toBe(9);
    expect(await resolveTabId('', async () => [])).toBeNull();
    expect(await resolveTabId('', async () => [{}])).toBeNull();
    expect(await resolveTabId('', async () => [{ id: -1 }])).toBeNull();
    expect(
      await resolveTabId('', async () => {
        throw new Error('no tabs permission');
      }),
    ).toBeNull();
    expect(await resolveTabId('', null)).toBeNull();
  });
});
