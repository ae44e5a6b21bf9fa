// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { backgroundUrls, cssUrls, deepElements, findImage, isLazyPlaceholder, lazySource, locate, sameUrl } from '../../src/content/find';
import { pageMayFetch } from '../../src/content/capture';

const BASE = 'http://127.0.0.1:8000/page/index.html';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('cssUrls / backgroundUrls', () => {
  it('extracts every url() of a CSS image value, quoted or not, with escapes', () => {
    expect(cssUrls('url("a.png"), linear-gradient(red, blue), url(b.jpg), url( \'c d.png\' )')).toEqual(['a.png', 'b.jpg', 'c d.png']);
    expect(cssUrls('url("a\\"b.png")')).toEqual(['a"b.png']);
    expect(cssUrls('none')).toEqual([]);
  });
  it('looks at the element, ::before and ::after (background and content), resolved and deduplicated', () => {
    const el = document.createElement('div');
    const styles: Record<string, { backgroundImage: string; content?: string }> = {
      '': { backgroundImage: 'url("bg.png")' },
      '::before': { backgroundImage: 'url(/abs/before.png)', content: '""' },
      '::after': { backgroundImage: 'none', content: 'url("bg.png")' },
    };
    expect(backgroundUrls(el, (_e, p) => styles[p ?? ''], BASE)).toEqual(['http://127.0.0.1:8000/page/bg.png', 'http://127.0.0.1:8000/abs/before.png']);
  });
  it('a style lookup that throws is skipped, not fatal', () => {
    const el = document.createElement('div');
    expect(
      backgroundUrls(
        el,
        (_e, p) => {
          if (p) throw new Error('no pseudo styles');
          return { backgroundImage: 'url(x.png)' };
        },
        BASE,
      ),
    ).toEqual(['http://127.0.0.1:8000/page/x.png']);
  });
});

describe('lazy placeholders', () => {
  it('reads the first lazy attribute (data-srcset: first candidate)', () => {
    const img = document.createElement('img');
    img.setAttribute('data-srcset', 'real-1x.png 1x, real-2x.png 2x');
    expect(lazySource(img)).toBe('real-1x.png');
    img.setAttribute('data-src', 'real.png');
    expect(lazySource(img)).toBe('real.png');
  });
  it.each([
    ['a data: GIF standing in for data-src', { currentSrc: 'data:image/gif;base64,R0lGOD', naturalWidth: 1, naturalHeight: 1, lazySrc: 'real.png' }, true],
    ['a 1×1 spacer file', { currentSrc: 'http://127.0.0.1:8000/page/spacer.gif', naturalWidth: 1, naturalHeight: 1, lazySrc: 'real.png' }, true],
    ['the real image already swapped in', { currentSrc: 'http://127.0.0.1:8000/page/real.png', naturalWidth: 1, naturalHeight: 1, lazySrc: 'real.png' }, false],
    ['a full-size image with a data-src', { currentSrc: 'http://127.0.0.1:8000/page/low.jpg', naturalWidth: 300, naturalHeight: 200, lazySrc: 'real.png' }, false],
    ['no lazy attribute', { currentSrc: 'data:image/gif;base64,R0lGOD', naturalWidth: 1, naturalHeight: 1, lazySrc: null }, false],
  ])('%s → %s', (_n, p, want) => {
    expect(isLazyPlaceholder(p, BASE)).toBe(want);
  });
});

describe('finding the image in the document', () => {
  it('sameUrl resolves relative addresses', () => {
    expect(sameUrl('a.png', 'http://127.0.0.1:8000/page/a.png', BASE)).toBe(true);
    expect(sameUrl('a.png', 'http://127.0.0.1:8000/a.png', BASE)).toBe(false);
    expect(sameUrl('http://[bad', 'x', BASE)).toBe(false);
  });
  it('descends into open shadow roots (nested), never into closed ones', () => {
    const host = document.createElement('x-outer');
    const root = host.attachShadow({ mode: 'open' });
    const inner = document.createElement('x-inner');
    inner.attachShadow({ mode: 'open' }).innerHTML = '<img id="deep" src="http://127.0.0.1:8000/deep.png">';
    root.appendChild(inner);
    const closed = document.createElement('x-closed');
    closed.attachShadow({ mode: 'closed' }).innerHTML = '<img id="hidden" src="http://127.0.0.1:8000/hidden.png">';
    document.body.append(host, closed);
    const ids = Array.from(deepElements(document)).map((e) => e.id).filter(Boolean);
    expect(ids).toContain('deep');
    expect(ids).not.toContain('hidden');
    expect(findImage('http://127.0.0.1:8000/deep.png', null)?.id).toBe('deep');
    expect(findImage('http://127.0.0.1:8000/hidden.png', null)).toBeNull();
  });
  it('locate: a click on a custom element with a closed shadow root says so', () => {
    const closed = document.createElement('x-closed');
    closed.attachShadow({ mode: 'closed' }).innerHTML = '<img src="http://127.0.0.1:8000/hidden.png">';
    document.body.append(closed);
    const loc = locate('http://127.0.0.1:8000/hidden.png', closed);
    expect(loc.kind).toBe('closed-shadow');
  });
  it('locate: an element with no image at all is "none"', () => {
    const div = document.createElement('div');
    document.body.append(div);
    expect(locate('http://127.0.0.1:8000/nothing.png', div)).toEqual({ kind: 'none', hadBackgrounds: false });
  });
});

describe('pageMayFetch: the page only fetches what it may read with its own credentials', () => {
  it.each([
    ['http://127.0.0.1:8000/a.png', true],
    ['http://127.0.0.1:8001/a.png', false],
    ['http://localhost:8000/a.png', false],
    ['https://127.0.0.1:8000/a.png', false],
    ['blob:http://127.0.0.1:8000/6a2e', true],
    ['data:image/png;base64,AAAA', true],
    ['file:///etc/passwd', false],
    ['javascript:alert(1)', false],
    ['not a url', false],
  ])('%s → %s', (url, want) => {
    expect(pageMayFetch(url, 'http://127.0.0.1:8000')).toBe(want);
  });
});
