/**
 * The one message the content script accepts ('content/capture'), checked here without importing
 * src/protocol/messages.ts: that module pulls in the attack registry and TensorFlow.js, which would make
 * the content script, injected into every frame of every page, a ~900 KB bundle that compiles a
 * WebAssembly module at load (a 'wasm-eval' CSP violation on pages with a strict CSP: checklist row 15).
 * tests/content/message.test.ts keeps it in step with parseMessage / contentMayAccept.
 */
import { ProbeError } from '../core/errors';

/** Largest side of a captured image (the protocol's MAX_EXPORT_CAPTURE_SIDE; a unit test keeps them equal). */
export const CONTENT_MAX_SIDE = 2048;
/** Longest address accepted (the protocol's limit). */
export const CONTENT_MAX_URL = 8192;

/** The sender fields the check needs (a chrome.runtime.MessageSender). */
export interface ContentSender {
  readonly id?: string;
  readonly tab?: unknown;
}

/** Only this extension's background (no tab) may talk to the content script. */
export function fromOwnBackground(sender: ContentSender, runtimeId: string): boolean {
  return sender.id === runtimeId && sender.tab === undefined;
}

/**
 * A 'content/capture' request, validated as the protocol does, or null for any other message type
 * (left to other listeners). Throws ProbeError BAD_MESSAGE for a malformed capture request.
 */
export function parseCaptureRequest(raw: unknown): { srcUrl: string; maxSide: number } | null {
  const bad = (m: string): never => {
    throw new ProbeError('BAD_MESSAGE', m);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('message must be an object');
  const { type, payload } = raw as { type?: unknown; payload?: unknown };
  if (type !== 'content/capture') return null;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return bad('payload must be an object');
  const p = payload as Record<string, unknown>;
  for (const k of Object.keys(p)) if (k !== 'srcUrl' && k !== 'maxSide') bad(`unexpected field "${k}"`);
  const { srcUrl, maxSide } = p;
  if (typeof srcUrl !== 'string' || srcUrl.length === 0 || srcUrl.length > CONTENT_MAX_URL) return bad('srcUrl must be a non-empty string');
  if (typeof maxSide !== 'number' || !Number.isInteger(maxSide) || maxSide < 1 || maxSide > CONTENT_MAX_SIDE) {
    return bad(`maxSide must be an integer in [1, ${CONTENT_MAX_SIDE}]`);
  }
  return { srcUrl, maxSide };
}

/**
 * A 'content/browse' request ({enabled}), validated as the protocol does, or null for any other message type.
 * Throws ProbeError BAD_MESSAGE for a malformed one.
 */
export function parseBrowseRequest(raw: unknown): { enabled: boolean } | null {
  const bad = (m: string): never => {
    throw new ProbeError('BAD_MESSAGE', m);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('message must be an object');
  const { type, payload } = raw as { type?: unknown; payload?: unknown };
  if (type !== 'content/browse') return null;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return bad('payload must be an object');
  const p = payload as Record<string, unknown>;
  for (const k of Object.keys(p)) if (k !== 'enabled') bad(`unexpected field "${k}"`);
  if (typeof p.enabled !== 'boolean') return bad('enabled must be a boolean');
  return { enabled: p.enabled };
}

/** What to do about an image of a local file, whose pixels Chrome keeps from extensions (checklist row 17). */
export const LOCAL_FILE_MESSAGE =
  'This image is a local file (file://), and Chrome does not let extensions read the pixels of local files. Serve its folder over http (for example run `python3 -m http.server` in it, then open http://localhost:8000/) and probe the image there.';

/**
 * The reply the background uses when no content script answers in a frame: a browser page (chrome://, the
 * web store), a local file, or a page opened before the extension was installed or reloaded. Code
 * UNSUPPORTED_PAGE with what to do; the browser's own wording ("Receiving end does not exist") is not shown.
 */
export function noContentScript(srcUrl: string): { code: 'UNSUPPORTED_PAGE'; message: string } {
  if (srcUrl.startsWith('file:')) return { code: 'UNSUPPORTED_PAGE', message: LOCAL_FILE_MESSAGE };
  return {
    code: 'UNSUPPORTED_PAGE',
    message: 'The extension cannot read this page: browser pages (chrome://, the web store) are closed to extensions, and a page opened before the extension was installed or updated needs a reload. Reload the page and probe the image again.',
  };
}
