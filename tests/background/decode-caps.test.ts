import { describe, expect, it } from 'vitest';
import { fetchImageBytes, httpFailure, readCapped } from '../../src/background/decode';

/** A streamed body of `chunks` pieces of `size` bytes, with no content-length. */
function streamed(chunks: number, size: number): { res: Response; pulled: () => number } {
  let n = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (n >= chunks) ctl.close();
      else {
        n++;
        ctl.enqueue(new Uint8Array(size).fill(n));
      }
    },
  });
  return { res: new Response(body), pulled: () => n };
}

describe('readCapped: the byte cap holds while the body streams', () => {
  it('reads a body under the cap whole and in order', async () => {
    const { res } = streamed(3, 4);
    expect(Array.from(await readCapped(res, 12, () => false, 1000))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });
  it('stops reading as soon as the cap is passed (an endless body is never buffered)', async () => {
    const { res, pulled } = streamed(1_000_000, 1024);
    await expect(readCapped(res, 10 * 1024, () => false, 1000)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(pulled()).toBeLessThan(20);
  });
  it('refuses from a declared content-length without reading', async () => {
    const res = new Response('x', { headers: { 'content-length': '999999' } });
    await expect(readCapped(res, 1000, () => false, 1000)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });
  it('a body that breaks off is FETCH_FAILED, or TIMEOUT when the timer aborted it', async () => {
    const broken = (): Response => new Response(new ReadableStream({ pull: (ctl) => ctl.error(new Error('reset')) }));
    await expect(readCapped(broken(), 1000, () => false, 1000)).rejects.toMatchObject({ code: 'FETCH_FAILED' });
    await expect(readCapped(broken(), 1000, () => true, 2000)).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/2 s/) });
  });
});

describe('fetch refusals with a clear sentence', () => {
  it('401/403 say the image needs the site’s sign-in; others give the status', () => {
    expect(httpFailure(401)).toMatchObject({ code: 'FETCH_FAILED', message: expect.stringMatching(/sign-in \(HTTP 401\)/) });
    expect(httpFailure(403).message).toMatch(/sign-in \(HTTP 403\)/);
    expect(httpFailure(500).message).toBe('The image could not be loaded (HTTP 500).');
  });
  it('a data: URL longer than the byte cap is refused before it is read; blob: URLs belong to the page', async () => {
    await expect(fetchImageBytes(`data:image/png;base64,${'A'.repeat(2000)}`, 1000, 1000)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect((await fetchImageBytes('data:image/gif;base64,R0lGODlhAQABAAAAACw=', 1000, 1000)).length).toBeGreaterThan(0);
    await expect(fetchImageBytes('blob:http://127.0.0.1:1/x')).rejects.toMatchObject({ code: 'UNSUPPORTED_PAGE' });
  });
});
