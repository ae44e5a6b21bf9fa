import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import {
  CHROME_ONLY_KEYS,
  CHROME_ONLY_PERMISSIONS,
  GECKO_ANDROID_MIN_VERSION,
  GECKO_ID,
  GECKO_MIN_VERSION,
  firefoxManifest,
  type Manifest,
} from '../../src/firefox/manifest';
import { ACCEPTED_LINT_WARNINGS, isAcceptedWarning, parseLintOutput } from '../../src/firefox/lint';
import { PacketReader, encodePacket, type Json } from '../../src/firefox/marionette';

const chrome = JSON.parse(readFileSync('manifest.json', 'utf8')) as Manifest;

function codeOf(f: () => unknown): string | null {
  try {
    f();
  } catch (e) {
    return e instanceof ProbeError ? e.code : 'not a ProbeError';
  }
  return null;
}

describe('Firefox manifest derived from manifest.json', () => {
  const ff = firefoxManifest(chrome);

  it('turns the service worker into an event page with the same script and module type', () => {
    const bg = chrome.background as { service_worker: string; type?: string };
    expect(ff.background).toEqual(bg.type === undefined ? { scripts: [bg.service_worker] } : { scripts: [bg.service_worker], type: bg.type });
    expect(JSON.stringify(ff)).not.toContain('service_worker');
  });

  it('adds the gecko id, a minimum version that has what we use, and declares no data collection', () => {
    expect(ff.browser_specific_settings).toEqual({
      gecko: { id: GECKO_ID, strict_min_version: GECKO_MIN_VERSION, data_collection_permissions: { required: ['none'] } },
      gecko_android: { strict_min_version: GECKO_ANDROID_MIN_VERSION },
    });
    expect(GECKO_ID).toMatch(/^[a-z0-9._-]+@[a-z0-9._-]+$/i);
    // data_collection_permissions needs 140 on desktop; module background scripts 112; storage.session 115.
    expect(Number(GECKO_MIN_VERSION.split('.')[0])).toBeGreaterThanOrEqual(140);
  });

  it('keeps every other key of manifest.json unchanged and drops only Chrome-only ones', () => {
    const dropped = Object.keys(chrome).filter((k) => !(k in ff));
    expect(dropped.every((k) => CHROME_ONLY_KEYS.includes(k))).toBe(true);
    if ('minimum_chrome_version' in chrome) expect(dropped).toContain('minimum_chrome_version');
    for (const k of Object.keys(ff)) expect(CHROME_ONLY_KEYS).not.toContain(k);
    for (const [k, v] of Object.entries(chrome)) {
      if (k === 'background' || k === 'permissions' || k === 'optional_permissions' || k === 'browser_specific_settings' || dropped.includes(k)) continue;
      expect(ff[k], k).toEqual(v);
    }
  });

  it('asks for the same privileges as the Chrome build, less Chrome-only permissions', () => {
    const perms = (chrome.permissions ?? []) as string[];
    expect(ff.permissions).toEqual(perms.filter((p) => !CHROME_ONLY_PERMISSIONS.includes(p)));
    expect(ff.host_permissions).toEqual(chrome.host_permissions);
    expect(ff.content_security_policy).toEqual(chrome.content_security_policy);
    expect(ff).not.toHaveProperty('externally_connectable');
  });

  it('removes Chrome-only keys and permissions from any manifest, and does not modify its input', () => {
    const input: Manifest = {
      manifest_version: 3,
      name: 'x',
      version: '1',
      minimum_chrome_version: '121',
      key: 'abc',
      side_panel: { default_path: 'p.html' },
      background: { service_worker: 'bg.js' },
      permissions: ['storage', 'offscreen', 'contextMenus', 'sidePanel'],
      optional_permissions: ['offscreen', 'tabs'],
    };
    const before = structuredClone(input);
    const out = firefoxManifest(input);
    expect(input).toEqual(before);
    expect(out).not.toHaveProperty('minimum_chrome_version');
    expect(out).not.toHaveProperty('key');
    expect(out).not.toHaveProperty('side_panel');
    expect(out.background).toEqual({ scripts: ['bg.js'] });
    expect(out.permissions).toEqual(['storage', 'contextMenus']);
    expect(out.optional_permissions).toEqual(['tabs']);
  });

  it('keeps gecko settings that the manifest already has', () => {
    const out = firefoxManifest({
      ...chrome,
      browser_specific_settings: { gecko: { id: 'mine@example.org', strict_min_version: '142.0' } },
    });
    const gecko = (out.browser_specific_settings as { gecko: Manifest }).gecko;
    expect(gecko.id).toBe('mine@example.org');
    expect(gecko.strict_min_version).toBe('142.0');
  });

  it('rejects a manifest it cannot convert with BAD_INPUT', () => {
    expect(codeOf(() => firefoxManifest({ manifest_version: 2, name: 'x', version: '1', background: { scripts: ['a.js'] } }))).toBe('BAD_INPUT');
    expect(codeOf(() => firefoxManifest({ manifest_version: 3, name: 'x', version: '1' }))).toBe('BAD_INPUT');
    expect(codeOf(() => firefoxManifest({ manifest_version: 3, name: 'x', version: '1', background: { service_worker: '' } }))).toBe('BAD_INPUT');
    expect(codeOf(() => firefoxManifest({ ...chrome, permissions: 'storage' }))).toBe('BAD_INPUT');
    expect(codeOf(() => firefoxManifest([] as unknown as Manifest))).toBe('BAD_INPUT');
  });
});

describe('web-ext lint output', () => {
  it('parses findings by severity and rejects output that is not web-ext JSON', () => {
    const report = parseLintOutput(
      JSON.stringify({
        count: 2,
        errors: [{ code: 'MANIFEST_FIELD_REQUIRED', message: 'x', file: 'manifest.json' }],
        warnings: [{ code: 'UNSAFE_VAR_ASSIGNMENT', message: 'y', file: 'assets/preact-F2GXVsNY.js', line: 2 }],
        notices: [],
      }),
      1,
    );
    expect(report.errors.map((e) => e.code)).toEqual(['MANIFEST_FIELD_REQUIRED']);
    expect(report.warnings[0]).toEqual({ code: 'UNSAFE_VAR_ASSIGNMENT', message: 'y', file: 'assets/preact-F2GXVsNY.js' });
    expect(report.exitCode).toBe(1);
    expect(codeOf(() => parseLintOutput('not json', 2))).toBe('BAD_INPUT');
    expect(codeOf(() => parseLintOutput('{"errors": 3}', 0))).toBe('BAD_INPUT');
    expect(codeOf(() => parseLintOutput('{"errors": [{}], "warnings": [], "notices": []}', 0))).toBe('BAD_INPUT');
  });

  it('accepts only the listed warnings, in the listed files', () => {
    expect(ACCEPTED_LINT_WARNINGS.length).toBeGreaterThan(0);
    expect(isAcceptedWarning({ code: 'UNSAFE_VAR_ASSIGNMENT', message: '', file: 'assets/preact-F2GXVsNY.js' })).toBe(true);
    expect(isAcceptedWarning({ code: 'UNSAFE_VAR_ASSIGNMENT', message: '', file: 'assets/index.ts-8EWeFZSZ.js' })).toBe(false);
    expect(isAcceptedWarning({ code: 'UNSAFE_VAR_ASSIGNMENT', message: '', file: null })).toBe(false);
    expect(isAcceptedWarning({ code: 'KEY_FIREFOX_UNSUPPORTED_BY_MIN_VERSION', message: '', file: 'manifest.json' })).toBe(false);
  });
});

describe('Marionette packets', () => {
  it('round-trips packets split at any byte, including multi-byte UTF-8', () => {
    const packets: Json[] = [[0, 1, 'WebDriver:NewSession', { a: 'ε → ü' }], { applicationType: 'gecko', marionetteProtocol: 3 }, [1, 2, null, { value: null }]];
    const bytes = Buffer.concat(packets.map(encodePacket));
    for (const step of [1, 3, 7, bytes.length]) {
      const reader = new PacketReader();
      const got: Json[] = [];
      for (let i = 0; i < bytes.length; i += step) got.push(...reader.push(bytes.subarray(i, i + step)));
      expect(got).toEqual(packets);
    }
  });

  it('rejects a malformed stream with BAD_MESSAGE', () => {
    expect(codeOf(() => new PacketReader().push(Buffer.from('x1:{}')))).toBe('BAD_MESSAGE');
    expect(codeOf(() => new PacketReader().push(Buffer.from('3:{x}')))).toBe('BAD_MESSAGE');
    expect(codeOf(() => new PacketReader().push(Buffer.from('1'.repeat(30))))).toBe('BAD_MESSAGE');
  });
});
