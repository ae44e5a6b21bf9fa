import { describe, expect, it } from 'vitest';
import { acquireImage, FINAL_PAGE_ERRORS, type AcquireDeps } from '../../src/background/acquire';
import type { DecodedImage } from '../../src/background/decode';
import { ProbeError, type ErrorCode } from '../../src/core/errors';
import { bytesToBase64 } from '../../src/protocol/base64';
import type { CaptureResponse } from '../../src/protocol/types';

const REQ = { srcUrl: 'http://localhost:9/a.png', pageUrl: 'http://127.0.0.1:9/', maxSide: 8 };
const decoded: DecodedImage = { image: { width: 2, height: 1, data: new Uint8Array(8).fill(7) }, naturalWidth: 20, naturalHeight: 10, format: 'gif', firstFrameOnly: true };

function deps(page: CaptureResponse | Error, fetched: DecodedImage | ProbeError): AcquireDeps & { fetches: string[] } {
  const fetches: string[] = [];
  return {
    fetches,
    fromPage: async () => {
      if (page instanceof Error) throw page;
      return page;
    },
    fetchAndDecode: async (url) => {
      fetches.push(url);
      if (fetched instanceof ProbeError) throw fetched;
      return fetched;
    },
  };
}
const pageError = (code: ErrorCode, message = 'page says no'): CaptureResponse => ({ ok: false, error: { code, message } });
const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: { code?: string }) => e.code ?? 'NO_CODE');

describe('acquireImage: page → extension fetch → coded error', () => {
  it('uses the page pixels when the page has them, without fetching', async () => {
    const d = deps({ ok: true, image: { width: 2, height: 2, naturalWidth: 4, naturalHeight: 4, rgbaBase64: bytesToBase64(new Uint8Array(16).fill(1)) } }, decoded);
    const got = await acquireImage(REQ, d);
    expect(got.source).toMatchObject({ capturedBy: 'page', naturalWidth: 4 });
    expect(got.image.data.length).toBe(16);
    expect(d.fetches).toEqual([]);
  });
  it('refuses malformed page pixels', async () => {
    const bad = deps({ ok: true, image: { width: 3, height: 2, naturalWidth: 4, naturalHeight: 4, rgbaBase64: bytesToBase64(new Uint8Array(16)) } }, decoded);
    expect(await codeOf(acquireImage(REQ, bad))).toBe('BAD_MESSAGE');
    const huge = deps({ ok: true, image: { width: 9, height: 1, naturalWidth: 9, naturalHeight: 1, rgbaBase64: bytesToBase64(new Uint8Array(36)) } }, decoded);
    expect(await codeOf(acquireImage(REQ, huge))).toBe('BAD_MESSAGE');
  });
  it.each(['CROSS_ORIGIN_BLOCKED', 'IMAGE_BROKEN', 'NO_IMAGE', 'FETCH_FAILED', 'BAD_MESSAGE'] as const)('falls back to the extension fetch after page error %s, and keeps the first-frame flag', async (code) => {
    const d = deps(pageError(code), decoded);
    const got = await acquireImage(REQ, d);
    expect(d.fetches).toEqual([REQ.srcUrl]);
    expect(got.source.capturedBy).toBe('extension');
    expect(got.firstFrameOnly).toBe(true);
  });
  it('falls back when the content script is missing (sendMessage throws)', async () => {
    const d = deps(new Error('Could not establish connection'), decoded);
    expect((await acquireImage(REQ, d)).source.capturedBy).toBe('extension');
  });
  it.each([...FINAL_PAGE_ERRORS])('a final page error (%s) is reported without fetching again', async (code) => {
    const d = deps(pageError(code), decoded);
    expect(await codeOf(acquireImage(REQ, d))).toBe(code);
    expect(d.fetches).toEqual([]);
  });
  it('reports the fetch error when both fail, but the page’s reason when the address is not fetchable', async () => {
    expect(await codeOf(acquireImage(REQ, deps(pageError('CROSS_ORIGIN_BLOCKED'), new ProbeError('FETCH_FAILED', 'HTTP 401'))))).toBe('FETCH_FAILED');
    const closed = deps(pageError('NO_IMAGE', 'closed shadow root'), new ProbeError('UNSUPPORTED_PAGE', 'blob: only in the page'));
    await expect(acquireImage(REQ, closed)).rejects.toMatchObject({ code: 'NO_IMAGE', message: 'closed shadow root' });
  });
});
