import { ProbeError } from '../core/errors';

/**
 * The Firefox manifest, derived in code from the one Chrome manifest (manifest.json stays the only
 * source of truth; `vite.firefox.config.ts` builds dist-firefox/ from this).
 */

/** A JSON value as it appears in a manifest. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A manifest as parsed from JSON. */
export type Manifest = { [key: string]: JsonValue };

/** Output folder of the Firefox build (`npm run build:firefox`). */
export const FIREFOX_DIST = 'dist-firefox';

/** The add-on id Firefox knows the extension by (also the key of the moz-extension UUID pref in tests). */
export const GECKO_ID = 'adversarial-probe@adversarial-probe.invalid';

/**
 * Oldest Firefox the build claims to run on: 140 is the oldest ESR still supported and the first
 * release that knows `data_collection_permissions`; everything else we use is older (MV3 with
 * `background.scripts` 109, module background scripts 112, `storage.session` 115,
 * `'wasm-unsafe-eval'` 102, OffscreenCanvas 105).
 */
export const GECKO_MIN_VERSION = '140.0';

/** Oldest Firefox for Android: the first that knows `data_collection_permissions`. */
export const GECKO_ANDROID_MIN_VERSION = '142.0';

/** Top-level keys Firefox does not support (addons-linter warns on them, Firefox ignores them). */
export const CHROME_ONLY_KEYS: readonly string[] = [
  'minimum_chrome_version',
  'key',
  'update_url',
  'offline_enabled',
  'side_panel',
  'externally_connectable',
  'oauth2',
  'export',
  'import',
  'storage',
  'file_browser_handlers',
  'file_system_provider_capabilities',
  'input_components',
  'tts_engine',
  'event_rules',
  'sandbox',
  'requirements',
];

/**
 * Permissions Chrome grants that Firefox lacks. `offscreen` is the one this project may use: in
 * Firefox the event page has a DOM already, so the offscreen document is not needed.
 */
export const CHROME_ONLY_PERMISSIONS: readonly string[] = [
  'offscreen',
  'sidePanel',
  'readingList',
  'fontSettings',
  'declarativeContent',
  'enterprise.deviceAttributes',
  'enterprise.platformKeys',
  'loginState',
  'platformKeys',
  'printerProvider',
  'processes',
  'system.cpu',
  'system.display',
  'system.memory',
  'system.storage',
  'ttsEngine',
  'wallpaper',
];

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: JsonValue | undefined, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) {
    throw new ProbeError('BAD_INPUT', `manifest.json: "${what}" must be a list of strings.`);
  }
  return v;
}

/**
 * The Firefox MV3 manifest for a Chrome MV3 manifest: `background.service_worker` becomes an event
 * page (`background.scripts`, same module type), `browser_specific_settings.gecko` gets the add-on
 * id, the minimum version and the data-collection declaration (none), and Chrome-only keys and
 * permissions are dropped. Everything else (permissions, host permissions, CSP, content scripts,
 * action, icons) is copied unchanged, so both builds ask for the same privileges.
 * Throws ProbeError('BAD_INPUT') for a manifest that is not MV3 or has no service worker.
 */
export function firefoxManifest(chromeManifest: Manifest): Manifest {
  if (!isObject(chromeManifest)) throw new ProbeError('BAD_INPUT', 'manifest.json must be a JSON object.');
  if (chromeManifest.manifest_version !== 3) {
    throw new ProbeError('BAD_INPUT', `manifest.json: manifest_version must be 3, got ${JSON.stringify(chromeManifest.manifest_version)}.`);
  }
  const bg = chromeManifest.background;
  if (!isObject(bg) || typeof bg.service_worker !== 'string' || bg.service_worker === '') {
    throw new ProbeError('BAD_INPUT', 'manifest.json: background.service_worker (a file path) is required.');
  }
  const out: Manifest = {};
  for (const [key, value] of Object.entries(chromeManifest)) {
    if (CHROME_ONLY_KEYS.includes(key)) continue;
    out[key] = structuredClone(value);
  }
  const background: Manifest = { scripts: [bg.service_worker] };
  if (bg.type !== undefined) background.type = bg.type;
  out.background = background;

  const permissions = stringList(chromeManifest.permissions, 'permissions');
  if (permissions) out.permissions = permissions.filter((p) => !CHROME_ONLY_PERMISSIONS.includes(p));
  const optional = stringList(chromeManifest.optional_permissions, 'optional_permissions');
  if (optional) out.optional_permissions = optional.filter((p) => !CHROME_ONLY_PERMISSIONS.includes(p));

  const existing = chromeManifest.browser_specific_settings;
  const settings: Manifest = isObject(existing) ? structuredClone(existing) : {};
  const gecko: Manifest = isObject(settings.gecko) ? settings.gecko : {};
  settings.gecko = {
    ...gecko,
    id: typeof gecko.id === 'string' ? gecko.id : GECKO_ID,
    strict_min_version: typeof gecko.strict_min_version === 'string' ? gecko.strict_min_version : GECKO_MIN_VERSION,
    // Nothing leaves the browser: images are classified and attacked locally.
    data_collection_permissions: isObject(gecko.data_collection_permissions) ? gecko.data_collection_permissions : { required: ['none'] },
  };
  // Firefox for Android learnt data_collection_permissions in 142 (desktop in 140). Android has no
  // context menus, so the add-on is of little use there, but the declaration must still be valid.
  const android: Manifest = isObject(settings.gecko_android) ? settings.gecko_android : {};
  settings.gecko_android = {
    ...android,
    strict_min_version: typeof android.strict_min_version === 'string' ? android.strict_min_version : GECKO_ANDROID_MIN_VERSION,
  };
  out.browser_specific_settings = settings;
  return out;
}
