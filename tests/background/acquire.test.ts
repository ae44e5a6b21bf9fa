import { describe, expect, it } from 'vitest';
import { acquireImage, FINAL_PAGE_ERRORS, type AcquireDeps } from '../../src/background/acquire';
import type { DecodedImage } from '../../src/background/decode';
import { ProbeError, type ErrorCode } from '../../src/core/errors';
import { AccessError } from '../../src/background/access';
import { screenCrop } from '../../src/background/screen';
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

describe('acquireImage: the screen as the last resort', () => {
  const box = { x: 10, y: 20, width: 56, height: 56, dpr: 1, viewportWidth: 800, viewportHeight: 600, naturalWidth: 28, naturalHeight: 28 };
  const shot = { width: 8, height: 8, data: new Uint8Array(256).fill(9) };
  const withScreen = (page: CaptureResponse, fetched: DecodedImage | ProbeError, screen: 'ok' | 'fails') => {
    const d = deps(page, fetched);
    const boxes: unknown[] = [];
    return Object.assign(d, {
      boxes,
      fromScreen: async (b: typeof box) => {
        boxes.push(b);
        if (screen === 'fails') throw new ProbeError('NO_IMAGE', 'not on screen');
        return shot;
      },
    });
  };

  it('an image the page will not hand over and the extension may not download is taken from the screen, said so', async () => {
    const d = withScreen({ ok: false, error: { code: 'CROSS_ORIGIN_BLOCKED', message: 'tainted' }, box }, new AccessError('not allowed', ['http://localhost/*']), 'ok');
    const got = await acquireImage(REQ, d);
    expect(d.fetches).toEqual([REQ.srcUrl]);
    expect(d.boxes).toEqual([box]);
    expect(got.source).toMatchObject({ capturedBy: 'screen', naturalWidth: 28, naturalHeight: 28 });
    expect(got.image).toBe(shot);
  });

  it('also after a failed download (hotlink protection: 403), but never before the download is tried', async () => {
    const d = withScreen({ ok: false, error: { code: 'CROSS_ORIGIN_BLOCKED', message: 'tainted' }, box }, new ProbeError('FETCH_FAILED', 'HTTP 403'), 'ok');
    expect((await acquireImage(REQ, d)).source.capturedBy).toBe('screen');
    const fine = withScreen({ ok: false, error: { code: 'CROSS_ORIGIN_BLOCKED', message: 'tainted' }, box }, decoded, 'ok');
    expect((await acquireImage(REQ, fine)).source.capturedBy).toBe('extension');
    expect(fine.boxes).toEqual([]);
  });

  it('when the screen fails too, the download’s reason stands (NO_ACCESS keeps the hosts to allow); no box, no screen', async () => {
    const d = withScreen({ ok: false, error: { code: 'CROSS_ORIGIN_BLOCKED', message: 'tainted' }, box }, new AccessError('not allowed', ['http://localhost/*']), 'fails');
    const e = await acquireImage(REQ, d).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AccessError);
    expect((e as AccessError).origins).toEqual(['http://localhost/*']);
    const nobox = withScreen(pageError('CROSS_ORIGIN_BLOCKED'), new ProbeError('FETCH_FAILED', 'HTTP 403'), 'ok');
    expect(await codeOf(acquireImage(REQ, nobox))).toBe('FETCH_FAILED');
    expect(nobox.boxes).toEqual([]);
  });
});

describe('screenCrop', () => {
  it('maps the CSS box to screenshot pixels by the screenshot’s own scale, and refuses boxes off the screenshot or malformed', () => {
    const box = { x: 10, y: 20, width: 56, height: 28, dpr: 2, viewportWidth: 800, viewportHeight: 600, naturalWidth: 28, naturalHeight: 14 };
    expect(screenCrop(box, 1600, 1200)).toEqual({ sx: 20, sy: 40, sw: 112, sh: 56 });
    expect(screenCrop(box, 800, 600)).toEqual({ sx: 10, sy: 20, sw: 56, sh: 28 });
    expect(screenCrop({ ...box, x: 780 }, 800, 600)).toBeNull();
    expect(screenCrop({ ...box, y: -1 }, 800, 600)).toBeNull();
    expect(screenCrop({ ...box, width: Number.NaN }, 800, 600)).toBeNull();
    expect(screenCrop({ ...box, x: Number.POSITIVE_INFINITY }, 800, 600)).toBeNull();
    expect(screenCrop({ ...box, viewportWidth: 0 }, 800, 600)).toBeNull();
  });
});
