import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import {
  AccessError,
  CONTENT_SCRIPT_ID,
  ContentScriptSync,
  injectContentScript,
  mergeAccess,
  requireFetchAccess,
  scriptMatches,
  type AccessDeps,
  type ContentScriptRegistration,
} from '../../src/background/access';
import { grantable, hostOf, originPattern } from '../../src/protocol/site-access';

/** An in-memory chrome.permissions + chrome.scripting. */
function fakeChrome(origins: string[] = [], opts: { injectFails?: string } = {}) {
  const scripts = new Map<string, ContentScriptRegistration>();
  const log: string[] = [];
  const deps: AccessDeps = {
    grantedOrigins: async () => [...origins],
    granted: async (p) => origins.includes(p) || origins.includes('<all_urls>'),
    registeredIds: async () => [...scripts.keys()],
    register: async (s) => {
      if (scripts.has(s.id)) throw new Error(`Duplicate script ID '${s.id}'`);
      log.push(`register ${s.matches.join(',')}`);
      scripts.set(s.id, s);
    },
    update: async (s) => {
      if (!scripts.has(s.id)) throw new Error('no such script');
      log.push(`update ${s.matches.join(',')}`);
      scripts.set(s.id, s);
    },
    unregister: async (id) => {
      log.push(`unregister ${id}`);
      scripts.delete(id);
    },
    inject: async (tabId, frameId, file) => {
      if (opts.injectFails) throw new Error(opts.injectFails);
      log.push(`inject ${tabId}/${frameId} ${file}`);
    },
  };
  return { deps, scripts, log, origins };
}

describe('host patterns', () => {
  it('one pattern per host, without port or path; nothing for non-web addresses', () => {
    expect(originPattern('https://cdn.example.com:8443/a/b.png?x=1')).toBe('https://cdn.example.com/*');
    expect(originPattern('http://127.0.0.1:5173/d0.png')).toBe('http://127.0.0.1/*');
    for (const u of ['file:///tmp/a.png', 'chrome://version/', 'data:image/png;base64,AA', 'blob:https://a.b/1', 'not a url', null, undefined]) {
      expect(originPattern(u)).toBeNull();
      expect(grantable(u)).toBe(false);
    }
    expect(hostOf('https://images.example.org/x.jpg')).toBe('images.example.org');
  });

  it('content-script matches keep web patterns and <all_urls>, sorted and once', () => {
    expect(scriptMatches(['https://b.example/*', 'http://a.example/*', 'https://b.example/*', 'file:///*', 'chrome-extension://x/*', '<all_urls>'])).toEqual([
      '<all_urls>',
      'http://a.example/*',
      'https://b.example/*',
    ]);
  });
});

describe('ContentScriptSync', () => {
  it('registers for the allowed sites, updates when they change, and unregisters when none is left', async () => {
    const c = fakeChrome([]);
    const sync = new ContentScriptSync(c.deps, 'src/content/index.iife.js');
    await sync.sync();
    expect(c.scripts.size).toBe(0);
    c.origins.push('https://a.example/*');
    await sync.sync();
    const s = c.scripts.get(CONTENT_SCRIPT_ID);
    expect(s).toEqual({ id: CONTENT_SCRIPT_ID, js: ['src/content/index.iife.js'], matches: ['https://a.example/*'], allFrames: true, runAt: 'document_start', persistAcrossSessions: true });
    c.origins.push('http://b.example/*');
    await sync.sync();
    expect(c.scripts.get(CONTENT_SCRIPT_ID)?.matches).toEqual(['http://b.example/*', 'https://a.example/*']);
    c.origins.length = 0;
    await sync.sync();
    expect(c.scripts.size).toBe(0);
    expect(c.log).toEqual(['register https://a.example/*', 'update http://b.example/*,https://a.example/*', `unregister ${CONTENT_SCRIPT_ID}`]);
  });

  it('concurrent syncs (start-up racing a grant) never register twice', async () => {
    const c = fakeChrome(['https://a.example/*']);
    const sync = new ContentScriptSync(c.deps, 'f.js');
    await Promise.all([sync.sync(), sync.sync(), sync.sync()]);
    expect(c.log.filter((l) => l.startsWith('register'))).toHaveLength(1);
    expect(c.scripts.size).toBe(1);
  });
});

describe('injection on demand', () => {
  it('injects the file into the clicked frame', async () => {
    const c = fakeChrome();
    await injectContentScript(c.deps, 'f.js', { tabId: 4, frameId: 2, frameUrl: 'https://a.example/page', srcUrl: 'https://a.example/x.png' });
    expect(c.log).toEqual(['inject 4/2 f.js']);
  });

  it('a refused web frame is NO_ACCESS naming its host pattern; browser pages and files are UNSUPPORTED_PAGE', async () => {
    const c = fakeChrome([], { injectFails: 'Cannot access contents of the page.' });
    const e = await injectContentScript(c.deps, 'f.js', { tabId: 1, frameId: 0, frameUrl: 'https://shop.example:8080/p', srcUrl: 'https://cdn.example/x.png' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AccessError);
    expect((e as AccessError).code).toBe('NO_ACCESS');
    expect((e as AccessError).origins).toEqual(['https://shop.example/*']);
    expect((e as AccessError).message).toContain('shop.example');
    for (const frameUrl of ['chrome://version/', 'file:///home/u/a.html']) {
      const r = await injectContentScript(c.deps, 'f.js', { tabId: 1, frameId: 0, frameUrl, srcUrl: 'x' }).catch((x: unknown) => x);
      expect(r).toBeInstanceOf(ProbeError);
      expect(r).not.toBeInstanceOf(AccessError);
      expect((r as ProbeError).code).toBe('UNSUPPORTED_PAGE');
    }
  });
});

describe('the extension fetching an image itself', () => {
  it('is allowed for allowed hosts and inline data, NO_ACCESS with the host pattern otherwise', async () => {
    const c = fakeChrome(['https://cdn.example/*']);
    await expect(requireFetchAccess(c.deps, 'https://cdn.example/a/b.png')).resolves.toBeUndefined();
    await expect(requireFetchAccess(c.deps, 'data:image/png;base64,AAAA')).resolves.toBeUndefined();
    const e = await requireFetchAccess(c.deps, 'https://other.example:444/c.png').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AccessError);
    expect((e as AccessError).origins).toEqual(['https://other.example/*']);
    const f = await requireFetchAccess(c.deps, 'ftp://old.example/c.png').catch((x: unknown) => x);
    expect((f as ProbeError).code).toBe('UNSUPPORTED_PAGE');
    const all = fakeChrome(['<all_urls>']);
    await expect(requireFetchAccess(all.deps, 'https://anything.example/x.png')).resolves.toBeUndefined();
  });

  it('merging the page’s and the image host’s refusals names each host once', () => {
    const page = new AccessError('page', ['https://shop.example/*']);
    expect(mergeAccess(page, null)).toBe(page);
    expect(mergeAccess(page, new AccessError('img', ['https://shop.example/*']))).toBe(page);
    const both = mergeAccess(page, new AccessError('img', ['https://cdn.example/*']));
    expect(both.origins).toEqual(['https://shop.example/*', 'https://cdn.example/*']);
    expect(both.code).toBe('NO_ACCESS');
  });
});
