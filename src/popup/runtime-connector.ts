import { ProbeError, isErrorCode } from '../core/errors';
import { putModelFiles } from '../protocol/model-files';
import type { Envelope, MessageType, Reply, Req, Res } from '../protocol/messages';
import type { Connector, LabConnector } from './connector';

/** Sends one envelope and resolves with the raw reply (unknown: it is checked here). */
export type SendMessage = (envelope: Envelope) => Promise<unknown>;

function chromeSend(envelope: Envelope): Promise<unknown> {
  return chrome.runtime.sendMessage<Envelope, unknown>(envelope);
}

function describe(e: unknown): string {
  if (e instanceof Error && e.message) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}

/**
 * A reply as the typed data, or a ProbeError: ok:false carries the background's code
 * (INTERNAL when it is not a known code); a missing or malformed reply is INTERNAL.
 */
export function unwrapReply<T extends MessageType>(raw: unknown): Res<T> {
  if (raw === undefined || raw === null) {
    throw new ProbeError('INTERNAL', 'No reply from the extension background (it may have been asleep). Try again.');
  }
  if (typeof raw !== 'object' || Array.isArray(raw) || typeof (raw as { ok?: unknown }).ok !== 'boolean') {
    throw new ProbeError('INTERNAL', 'Malformed reply from the extension background.');
  }
  const reply = raw as Reply<T>;
  if (reply.ok) {
    if (!('data' in reply)) throw new ProbeError('INTERNAL', 'Reply from the extension background has no data.');
    return reply.data;
  }
  const err: unknown = (reply as { error?: unknown }).error;
  const rec = typeof err === 'object' && err !== null ? (err as { code?: unknown; message?: unknown }) : {};
  const message = typeof rec.message === 'string' && rec.message ? rec.message : 'The extension reported an error.';
  throw new ProbeError(isErrorCode(rec.code) ? rec.code : 'INTERNAL', message);
}

/**
 * The popup's Connector in the extension: runtime messages to the background for tab `tabId`
 * (null: the most recent probe). `sendMessage` is replaceable for tests.
 */
export function createRuntimeConnector(
  tabId: number | null,
  sendMessage: SendMessage = chromeSend,
  // Called synchronously in the click (Firefox, and Chrome before user activation v2, honour the gesture only in the
  // click's own call stack; this Chromium keeps it across awaits, tried); the browser resolves
  // true without a prompt for hosts already allowed.
  requestPermission: (origins: string[]) => Promise<boolean> = (origins) => chrome.permissions.request({ origins }),
): Connector & LabConnector & Required<Pick<Connector, 'retry' | 'requestAccess' | 'getBackend' | 'setBackend'>> {
  async function send<T extends MessageType>(type: T, payload: Req<T>): Promise<Res<T>> {
    const envelope: Envelope<T> = { type, payload };
    let raw: unknown;
    try {
      raw = await sendMessage(envelope);
    } catch (e) {
      // The service worker was stopped while the message was on its way (Chrome restarts it on the next
      // message): one retry, then a coded error.
      if (!/Receiving end does not exist|message port closed/i.test(describe(e))) {
        throw new ProbeError('INTERNAL', `Could not reach the extension background: ${describe(e)}`);
      }
      try {
        raw = await sendMessage(envelope);
      } catch (e2) {
        throw new ProbeError('INTERNAL', `Could not reach the extension background: ${describe(e2)}`);
      }
    }
    return unwrapReply<T>(raw);
  }

  return {
    getState: () => send('probe/get-state', { tabId }),
    runAttack: ({ attack, params, target, modelId }) => send('probe/run-attack', { tabId, modelId, attack, params, target }),
    cancel: () => send('probe/cancel', { tabId }),
    listModels: () => send('probe/list-models', {}),
    retry: () => send('probe/retry', { tabId }),
    getBackend: () => send('probe/get-backend', {}),
    setBackend: (backend) => send('probe/set-backend', { backend }),
    listAccess: async () => (await chrome.permissions.getAll()).origins ?? [],
    removeAccess: (origins) => chrome.permissions.remove({ origins: [...origins] }),
    requestAccess: (origins) => {
      // No await before the browser's call: it must run inside the user's click.
      let asked: Promise<boolean>;
      try {
        asked = requestPermission([...origins]);
      } catch (e) {
        return Promise.reject(new ProbeError('NO_ACCESS', `The browser did not ask: ${describe(e)}`));
      }
      return asked.catch((e: unknown) => {
        throw new ProbeError('NO_ACCESS', `The browser did not ask: ${describe(e)}`);
      });
    },
    defend: () => send('probe/defenses', { tabId }),
    sweep: ({ maxEps, points }) => send('probe/sweep', { tabId, maxEps, points }),
    transfer: () => send('probe/transfer', { tabId }),
    labProgress: () => send('probe/lab-progress', { tabId }),
    cancelLab: () => send('probe/lab-cancel', { tabId }),
    exportAdversarial: () => send('probe/export', { tabId }),
    adversarialTraining: () => send('probe/adv-training', { tabId }),
    userModel: (source) => send('probe/user-model', { tabId, source }),
    userExport: (source) => send('probe/user-export', { tabId, source }),
    storeModelFiles: (files) => putModelFiles(files),
    saliency: ({ target }) => send('probe/saliency', { tabId, target }),
    ...(tabId === null
      ? {}
      : {
          getBrowseSite: () => send('browse/get-site', { tabId }),
          setBrowseSite: (enabled: boolean) => send('browse/set-site', { tabId, enabled }),
        }),
  };
}
