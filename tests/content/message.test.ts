import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import { CONTENT_MAX_SIDE, CONTENT_MAX_URL, fromOwnBackground, LOCAL_FILE_MESSAGE, noContentScript, parseBrowseRequest, parseCaptureRequest } from '../../src/content/message';
import { BADGE_MAX_SIDE } from '../../src/content/browse';
import { contentMayAccept, MAX_BADGE_SIDE, MAX_CAPTURE_SIDE, MAX_EXPORT_CAPTURE_SIDE, parseMessage } from '../../src/protocol/messages';

/** The content script's own 'content/capture' check must accept and refuse exactly what the protocol does. */
describe('content-side capture request check', () => {
  const cases: unknown[] = [
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 512 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 1 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 513 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 0 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 1.5 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: Number.NaN } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: '5' } },
    { type: 'content/capture', payload: { srcUrl: '', maxSide: 5 } },
    { type: 'content/capture', payload: { srcUrl: 'x'.repeat(CONTENT_MAX_URL), maxSide: 5 } },
    { type: 'content/capture', payload: { srcUrl: 'x'.repeat(CONTENT_MAX_URL + 1), maxSide: 5 } },
    { type: 'content/capture', payload: { srcUrl: 42, maxSide: 5 } },
    { type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 5, extra: 1 } },
    { type: 'content/capture', payload: null },
    { type: 'content/capture', payload: [] },
    { type: 'content/capture' },
  ];

  it('uses the protocol limits', () => {
    expect(CONTENT_MAX_SIDE).toBe(MAX_EXPORT_CAPTURE_SIDE);
    expect(MAX_CAPTURE_SIDE).toBeLessThan(MAX_EXPORT_CAPTURE_SIDE);
  });

  it.each(cases.map((c, i) => [i, c] as const))('case %i: same verdict as parseMessage', (_i, raw) => {
    let expected: { srcUrl: string; maxSide: number } | 'BAD_MESSAGE';
    try {
      const m = parseMessage(raw);
      expected = m.type === 'content/capture' ? m.payload : 'BAD_MESSAGE';
    } catch (e) {
      expect((e as ProbeError).code).toBe('BAD_MESSAGE');
      expected = 'BAD_MESSAGE';
    }
    let got: { srcUrl: string; maxSide: number } | null | 'BAD_MESSAGE';
    try {
      got = parseCaptureRequest(raw);
    } catch (e) {
      expect(e).toBeInstanceOf(ProbeError);
      expect((e as ProbeError).code).toBe('BAD_MESSAGE');
      got = 'BAD_MESSAGE';
    }
    expect(got).toEqual(expected);
  });

  it('leaves other message types to other listeners and refuses non-objects', () => {
    expect(parseCaptureRequest({ type: 'probe/get-state', payload: { tabId: 1 } })).toBeNull();
    for (const raw of [null, 'content/capture', 7, []]) expect(() => parseCaptureRequest(raw)).toThrow(ProbeError);
  });

  it('accepts only its own background, as contentMayAccept does', () => {
    const senders = [{ id: 'me' }, { id: 'me', tab: { id: 3 } }, { id: 'other' }, {}, { tab: { id: 1 } }];
    for (const s of senders) expect(fromOwnBackground(s, 'me')).toBe(contentMayAccept(s, 'me'));
    expect(fromOwnBackground({ id: 'me' }, 'me')).toBe(true);
  });

  it('says what to do when no content script answers', () => {
    expect(noContentScript('file:///home/u/d.png')).toEqual({ code: 'UNSUPPORTED_PAGE', message: LOCAL_FILE_MESSAGE });
    const other = noContentScript('chrome://version/images/x.png');
    expect(other.code).toBe('UNSUPPORTED_PAGE');
    expect(other.message).toMatch(/chrome:\/\//);
    expect(other.message).toMatch(/[Rr]eload the page/);
  });
});

/** The content script's own 'content/browse' check (browse mode on/off) must agree with the protocol too. */
describe('content-side browse request check', () => {
  const cases: unknown[] = [
    { type: 'content/browse', payload: { enabled: true } },
    { type: 'content/browse', payload: { enabled: false } },
    { type: 'content/browse', payload: { enabled: 1 } },
    { type: 'content/browse', payload: { enabled: 'true' } },
    { type: 'content/browse', payload: { enabled: null } },
    { type: 'content/browse', payload: {} },
    { type: 'content/browse', payload: { enabled: true, extra: 1 } },
    { type: 'content/browse', payload: null },
    { type: 'content/browse', payload: [] },
    { type: 'content/browse' },
  ];

  it.each(cases.map((c, i) => [i, c] as const))('case %i: same verdict as parseMessage', (_i, raw) => {
    let expected: { enabled: boolean } | 'BAD_MESSAGE';
    try {
      const m = parseMessage(raw);
      expected = m.type === 'content/browse' ? m.payload : 'BAD_MESSAGE';
    } catch (e) {
      expect((e as ProbeError).code).toBe('BAD_MESSAGE');
      expected = 'BAD_MESSAGE';
    }
    let got: { enabled: boolean } | null | 'BAD_MESSAGE';
    try {
      got = parseBrowseRequest(raw);
    } catch (e) {
      expect(e).toBeInstanceOf(ProbeError);
      expect((e as ProbeError).code).toBe('BAD_MESSAGE');
      got = 'BAD_MESSAGE';
    }
    expect(got).toEqual(expected);
  });

  it('leaves capture requests to the capture check and vice versa', () => {
    expect(parseBrowseRequest({ type: 'content/capture', payload: { srcUrl: 'http://a/x.png', maxSide: 5 } })).toBeNull();
    expect(parseCaptureRequest({ type: 'content/browse', payload: { enabled: true } })).toBeNull();
    for (const raw of [null, 'content/browse', 7, []]) expect(() => parseBrowseRequest(raw)).toThrow(ProbeError);
  });

  it('captures badge pixels within the protocol limit', () => {
    expect(BADGE_MAX_SIDE).toBe(MAX_BADGE_SIDE);
  });
});

/** Every module the content script bundles (value imports only, followed through relative paths). */
function contentModules(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1];
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = join(dirname(file), spec);
      const hit = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((f) => existsSync(f));
      if (!hit) throw new Error(`cannot resolve ${spec} from ${file}`);
      walk(hit);
    }
  };
  walk(entry);
  return { files: [...files].map((f) => relative('.', f)), packages: [...packages] };
}

describe('content script bundle', () => {
  it('pulls in neither the protocol module nor TensorFlow.js (it runs in every frame of every page; row 15: no wasm-eval under a strict CSP)', () => {
    const { files, packages } = contentModules('src/content/index.iife.ts');
    expect(files).toContain('src/content/message.ts');
    expect(files).toContain('src/content/capture.ts');
    expect(files).toContain('src/content/browse.ts');
    expect(files.filter((f) => f.startsWith('src/background/'))).toEqual(['src/background/decode.ts', 'src/background/browse-sites.ts'].filter((f) => files.includes(f)));
    expect(files).not.toContain('src/background/browse.ts');
    expect(files).not.toContain('src/protocol/messages.ts');
    expect(packages.filter((p) => p.startsWith('@tensorflow'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/core/') && !['src/core/errors.ts', 'src/core/image/header.ts'].includes(f))).toEqual([]);
  });
});
