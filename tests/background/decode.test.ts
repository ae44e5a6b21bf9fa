import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImageBytes, MAX_FETCH_BYTES, sniffImageType } from '../../src/background/decode';
import { serveStatic, type StaticServer } from '../../src/cli/serve';

let server: StaticServer;

beforeAll(async () => {
  server = await serveStatic('assets/demo', '127.0.0.1', [
    (req, res) => {
      if (req.url === '/huge.png') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(MAX_FETCH_BYTES + 1) });
        res.end();
        return true;
      }
      if (req.url === '/stall.png') {
        setTimeout(() => res.writeHead(200).end(), 2000);
        return true;
      }
      return false;
    },
  ]);
});
afterAll(async () => {
  await server.close();
});

describe('sniffImageType', () => {
  it.each([
    [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
    [[0xff, 0xd8, 0xff, 0xe0], 'image/jpeg'],
    [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61], 'image/gif'],
    [[0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50], 'image/webp'],
    [[...'<!doctype html>'].map((c) => c.charCodeAt(0)), null],
    [[], null],
  ])('%j → %s', (bytes, type) => {
    expect(sniffImageType(Uint8Array.from(bytes))).toBe(type);
  });
});

describe('fetchImageBytes', () => {
  it('fetches an image', async () => {
    const b = await fetchImageBytes(`${server.url}/digits/mnist-test-0000-light.png`);
    expect(sniffImageType(b)).toBe('image/png');
  });
  it.each([
    ['a 404', '/missing.png', 'FETCH_FAILED'],
    ['a declared size over the cap', '/huge.png', 'IMAGE_TOO_LARGE'],
  ])('%s is a coded error', async (_n, path, code) => {
    await expect(fetchImageBytes(`${server.url}${path}`)).rejects.toMatchObject({ code });
  });
  it('a stalled server times out with TIMEOUT', async () => {
    await expect(fetchImageBytes(`${server.url}/stall.png`, 300)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
  it('refuses other schemes and junk', async () => {
    await expect(fetchImageBytes('file:///etc/passwd')).rejects.toMatchObject({ code: 'UNSUPPORTED_PAGE' });
    await expect(fetchImageBytes('not a url')).rejects.toMatchObject({ code: 'FETCH_FAILED' });
  });
  it('reads data: URLs', async () => {
    const b = await fetchImageBytes('data:image/gif;base64,R0lGODlhAQABAAAAACw=');
    expect(sniffImageType(b)).toBe('image/gif');
  });
});
