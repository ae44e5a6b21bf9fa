import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../../src/core/errors';
import { preprocess, resampleArea, type RgbaImage } from '../../../src/core/image/preprocess';
import { loadMnist } from '../../../src/cli/data';
import { DARK, LIGHT, renderDigit } from '../../../src/cli/png';

const test = loadMnist('test');
const digit = (i: number): Float32Array => test.images.subarray(i * 784, i * 784 + 784);

function centreOfMass(p: Float32Array, size = 28): { x: number; y: number } {
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < p.length; i++) {
    m += p[i];
    mx += p[i] * (i % size);
    my += p[i] * Math.floor(i / size);
  }
  return { x: mx / m, y: my / m };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function solid(width: number, height: number, rgb: [number, number, number], alpha = 255): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([...rgb, alpha], p * 4);
  return { width, height, data };
}

describe('MNIST-style preprocessing', () => {
  it.each([
    ['light background (inverted)', LIGHT, true],
    ['dark background', DARK, false],
  ] as const)('recovers a real MNIST digit rendered on a %s', (_name, colours, inverted) => {
    for (const i of [0, 1, 2, 3]) {
      const img = renderDigit(digit(i), 4, colours.ink, colours.paper, 10);
      const out = preprocess(img);
      expect(out.inverted).toBe(inverted);
      expect(out.pixels.length).toBe(784);
      expect(correlation(out.pixels, digit(i))).toBeGreaterThan(0.85);
      const c = centreOfMass(out.pixels);
      expect(Math.abs(c.x - 14)).toBeLessThan(1);
      expect(Math.abs(c.y - 14)).toBeLessThan(1);
    }
  });

  it('crops and centres an off-centre digit in a non-square image', () => {
    const d = renderDigit(digit(5), 3, LIGHT.ink, LIGHT.paper, 0);
    const W = 300;
    const H = 120;
    const img = solid(W, H, [...LIGHT.paper] as [number, number, number]);
    for (let y = 0; y < d.height; y++) {
      for (let x = 0; x < d.width; x++) img.data.set(d.data.subarray((y * d.width + x) * 4, (y * d.width + x) * 4 + 4), ((y + 20) * W + x + 200) * 4);
    }
    const out = preprocess(img);
    expect(out.bbox!.x0).toBeGreaterThanOrEqual(200);
    expect(out.bbox!.y0).toBeGreaterThanOrEqual(20);
    const c = centreOfMass(out.pixels);
    expect(Math.abs(c.x - 14)).toBeLessThan(1);
    expect(Math.abs(c.y - 14)).toBeLessThan(1);
    expect(correlation(out.pixels, digit(5))).toBeGreaterThan(0.8);
  });

  it('scales the ink to fit the 20×20 box, keeping aspect', () => {
    // A tall 10×60 bar: height becomes 20, width ~3.
    const img = solid(100, 100, [255, 255, 255]);
    for (let y = 20; y < 80; y++) for (let x = 45; x < 55; x++) img.data.set([0, 0, 0, 255], (y * 100 + x) * 4);
    const out = preprocess(img);
    let rows = 0;
    let cols = 0;
    for (let y = 0; y < 28; y++) if (out.pixels.subarray(y * 28, y * 28 + 28).some((v) => v > 0.5)) rows++;
    for (let x = 0; x < 28; x++) if ([...Array(28).keys()].some((y) => out.pixels[y * 28 + x] > 0.5)) cols++;
    expect(rows).toBe(20);
    expect(cols).toBeGreaterThanOrEqual(3);
    expect(cols).toBeLessThanOrEqual(4);
  });

  it('treats transparent pixels as paper', () => {
    const img = solid(40, 40, [0, 0, 0], 0);
    for (let y = 10; y < 30; y++) for (let x = 18; x < 22; x++) img.data.set([0, 0, 0, 255], (y * 40 + x) * 4);
    const out = preprocess(img);
    expect(out.inverted).toBe(true);
    expect(Math.max(...out.pixels)).toBeGreaterThan(0.9);
  });

  it.each([
    ['white', solid(50, 30, [255, 255, 255])],
    ['black', solid(50, 30, [0, 0, 0])],
    ['flat grey', solid(8, 8, [128, 128, 128])],
    ['fully transparent', solid(10, 10, [0, 0, 0], 0)],
  ])('a blank (%s) image is a clear BLANK_IMAGE error', (_n, img) => {
    let err: unknown;
    try {
      preprocess(img);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as ProbeError).code).toBe('BLANK_IMAGE');
  });

  it('rejects malformed input with stable codes', () => {
    expect(() => preprocess({ width: 0, height: 5, data: new Uint8Array(0) })).toThrow(expect.objectContaining({ code: 'NOT_AN_IMAGE' }));
    expect(() => preprocess({ width: 2, height: 2, data: new Uint8Array(3) })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => preprocess({ width: 5000, height: 5000, data: new Uint8Array(4) })).toThrow(expect.objectContaining({ code: 'IMAGE_TOO_LARGE' }));
  });

  it('resize mode keeps the whole frame (no crop) and pads to square', () => {
    const img = solid(56, 28, [0, 0, 0]);
    for (let y = 4; y < 24; y++) for (let x = 0; x < 14; x++) img.data.set([255, 255, 255, 255], (y * 56 + x) * 4);
    const out = preprocess(img, { mode: 'resize' });
    expect(out.bbox).toBeNull();
    // The ink block stays at the left edge (no cropping); the right side is background; top rows are padding.
    expect(out.pixels[14 * 28 + 3]).toBeGreaterThan(0.9);
    expect(out.pixels[14 * 28 + 24]).toBeLessThan(0.1);
    expect(out.pixels[2 * 28 + 3]).toBeLessThan(0.1);
  });
});

describe('resampleArea', () => {
  it('preserves the mean when shrinking by an integer factor', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i);
    const out = resampleArea(src, 4, 4, 2, 2);
    expect(Array.from(out)).toEqual([2.5, 4.5, 10.5, 12.5]);
  });
});
