import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../../src/core/errors';
import { checkModelUrl, displayLevels, parseClassNames, userModelFromForm, userModelInput, type UserModelForm } from '../../../src/core/lab/user-input';
import { checkUserModelSource, checkWireSpec } from '../../../src/core/lab/user-source';
import { validateUserModelSpec } from '../../../src/core/models/user-model';
import { MOBILENET_V2 } from '../../../src/core/models/user-model';
import { MOBILENET_NOTE } from '../../../src/popup/mobilenet-note';

/** Bring-your-own-model input handling: the form, the URL, the wire description (same rules as validateUserModelSpec), the model input. */
const FORM: UserModelForm = {
  url: 'https://example.test/models/digits/model.json', format: 'layers', height: '28', width: '28', channels: '1', min: '0', max: '1',
  classNames: 'zero\none\ntwo', output: 'logits', classOffset: '0', preprocess: 'mnist',
};

const code = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof ProbeError ? e.code : 'OTHER';
  }
};

describe('the form', () => {
  it('a valid form gives the URL and a description that validateUserModelSpec accepts unchanged', () => {
    const { url, spec } = userModelFromForm(FORM);
    expect(url).toBe(FORM.url);
    expect(spec.id).toBe('user:digits');
    expect(spec.inputShape).toEqual([28, 28, 1]);
    expect(spec.classNames).toEqual(['zero', 'one', 'two']);
    expect(validateUserModelSpec(spec)).toEqual(spec);
  });

  it.each([
    [{ url: '' }, /Model URL/],
    [{ url: 'ftp://x/model.json' }, /only http and https/],
    [{ url: 'https://u:p@x/model.json' }, /user name or password/],
    [{ url: 'model.json' }, /valid absolute address/],
    [{ height: 'abc' }, /Height: a number is needed/],
    [{ height: '0' }, /height must be an integer/],
    [{ channels: '2' }, /channels must be 1 or 3/],
    [{ min: '1', max: '1' }, /finite min < max/],
    [{ classNames: 'only-one' }, /classNames must list 2/],
    [{ output: 'softmax' }, /output must be/],
    [{ classOffset: '11' }, /classOffset/],
  ] as const)('%o → BAD_INPUT %s', (patch, msg) => {
    expect(() => userModelFromForm({ ...FORM, ...patch })).toThrow(msg);
    expect(code(() => userModelFromForm({ ...FORM, ...patch }))).toBe('BAD_INPUT');
  });

  it('class names: one per line, or comma-separated on one line; blanks dropped', () => {
    expect(parseClassNames(' cat \n\n dog\r\n')).toEqual(['cat', 'dog']);
    expect(parseClassNames('cat, dog ,bird')).toEqual(['cat', 'dog', 'bird']);
    expect(parseClassNames('a, b\nc')).toEqual(['a, b', 'c']);
  });
});

describe('the wire description and source', () => {
  const base = { id: 'user:x', format: 'graph', inputShape: [4, 4, 3], inputRange: { min: -1, max: 1 }, classNames: ['a', 'b'], output: 'probs', classOffset: 1, preprocess: 'resize' };

  it('accepts and rejects exactly what validateUserModelSpec does (fuzzed one field at a time)', () => {
    const keys = Object.keys(base);
    const hostile = fc.oneof(fc.constantFrom(null, undefined, -0, 0, 1, 3, 11, 1025, -1, Number.NaN, Infinity, 'graph', 'layers', 'logits', 'mnist', [], [1], [2, 2, 1], [2, 2, 2], { min: 0, max: 1 }, ['a'], ['a', '']), fc.anything());
    fc.assert(fc.property(fc.constantFrom(...keys), hostile, (k, v) => {
      const raw = { ...base, [k]: v };
      const a = code(() => checkWireSpec(raw));
      const b = code(() => validateUserModelSpec(raw));
      expect(a === null).toBe(b === null);
      if (a === null) expect(checkWireSpec(raw)).toEqual(validateUserModelSpec(raw));
    }), { numRuns: 400, seed: 23 });
  });

  it('MobileNet needs consent: true; a URL source needs a valid URL and description; codes as asked', () => {
    expect(checkUserModelSource({ kind: 'mobilenet', consent: true })).toEqual({ kind: 'mobilenet', consent: true });
    expect(code(() => checkUserModelSource({ kind: 'mobilenet' }, 'BAD_MESSAGE'))).toBe('BAD_MESSAGE');
    expect(code(() => checkUserModelSource({ kind: 'mobilenet', consent: 'yes' }))).toBe('BAD_INPUT');
    expect(code(() => checkUserModelSource({ kind: 'url', url: 'javascript:alert(1)', spec: base }))).toBe('BAD_INPUT');
    expect(code(() => checkUserModelSource({ kind: 'url', url: 'https://x/m.json', spec: { ...base, extra: 1 } }))).toBe('BAD_INPUT');
    expect(checkUserModelSource({ kind: 'url', url: 'https://x/m.json', spec: base })).toMatchObject({ kind: 'url', url: 'https://x/m.json' });
    expect(checkModelUrl(' https://x/a b/model.json ')).toBe('https://x/a%20b/model.json');
  });

  it('a files source names a stored set by its hex key and a display name; anything else is refused', () => {
    const key = 'a'.repeat(32);
    expect(checkUserModelSource({ kind: 'files', key, name: 'model.json', spec: base })).toMatchObject({ kind: 'files', key, name: 'model.json' });
    for (const bad of [
      { kind: 'files', key: 'A'.repeat(32), name: 'model.json', spec: base },
      { kind: 'files', key: '../../etc', name: 'model.json', spec: base },
      { kind: 'files', key: 'ab', name: 'model.json', spec: base },
      { kind: 'files', key, name: '', spec: base },
      { kind: 'files', key, name: 'x'.repeat(201), spec: base },
      { kind: 'files', key, name: 'model.json', spec: { ...base, inputShape: [0, 1, 1] } },
      { kind: 'files', key, name: 'model.json', spec: base, url: 'https://x/' },
    ]) {
      expect(code(() => checkUserModelSource(bad, 'BAD_MESSAGE'))).toBe('BAD_MESSAGE');
    }
  });

  it('the popup shows the same MobileNet note as the core description', () => {
    expect(MOBILENET_NOTE).toBe(MOBILENET_V2.note);
  });
});

describe('the model input', () => {
  const img = (w: number, h: number, f: (x: number, y: number) => [number, number, number, number]) => {
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 4);
    return { width: w, height: h, data };
  };

  it('RGB: resized to h×w×3 in the model range, transparency over white', () => {
    const spec = validateUserModelSpec({ ...base(), inputShape: [2, 4, 3], inputRange: { min: -1, max: 1 } });
    const red = img(8, 4, () => [255, 0, 0, 255]);
    const { pixels, how } = userModelInput(red, spec);
    expect(pixels).toHaveLength(2 * 4 * 3);
    for (let i = 0; i < 8; i++) expect(Array.from(pixels.subarray(i * 3, i * 3 + 3))).toEqual([1, -1, -1]);
    expect(how).toBe('RGB, resized to 2×4');
    const clear = userModelInput(img(4, 2, () => [0, 0, 0, 0]), spec).pixels;
    expect(Array.from(clear).every((v) => v === 1)).toBe(true);
    expect(Array.from(displayLevels(pixels, spec).subarray(0, 3))).toEqual([255, 0, 0]);
  });

  it('grey square: the shipped preprocessing (inverting a light background), scaled to the range', () => {
    const spec = validateUserModelSpec({ ...base(), inputShape: [28, 28, 1], inputRange: { min: 0, max: 255 }, preprocess: 'mnist' });
    const digit = img(40, 40, (x, y) => (Math.abs(x - 20) < 3 && y > 8 && y < 32 ? [0, 0, 0, 255] : [255, 255, 255, 255]));
    const { pixels, how, inverted } = userModelInput(digit, spec);
    expect(pixels).toHaveLength(784);
    expect(inverted).toBe(true);
    expect(how).toContain('MNIST-style centring');
    expect(Math.max(...pixels)).toBeGreaterThan(200);
    expect(Math.min(...pixels)).toBe(0);
  });

  function base() {
    return { id: 'user:x', format: 'layers', inputShape: [4, 4, 3], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b'], output: 'logits', classOffset: 0, preprocess: 'resize' };
  }
});
