import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProbeError } from '../core/errors';
import { GECKO_ID } from './manifest';
import { Marionette, type Json } from './marionette';

/**
 * Firefox (ESR, Debian's firefox-esr) started headless on a fresh profile with Marionette on a
 * loopback port the system picks, the built add-on installed temporarily through Marionette
 * (`Addon:Install`, like about:debugging), and its moz-extension UUID fixed by a pref so its pages
 * can be opened. Node-only. Everything is bounded by timeouts and `close()` kills the process group.
 */

/** Where Debian's firefox-esr package puts the browser (override with FIREFOX_PATH). */
export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/lib/firefox-esr/firefox-esr';

/** Popup page path inside the build (same as the Chrome build). */
export const FIREFOX_POPUP_PATH = 'src/popup/index.html';

/** A running headless Firefox with the add-on installed. */
export interface FirefoxSession {
  readonly marionette: Marionette;
  /** The add-on id Firefox reported after installing it. */
  readonly addonId: string;
  /** `moz-extension://<uuid>` of the installed add-on. */
  readonly origin: string;
  /** What Firefox printed so far (stdout and stderr), for error messages. */
  output(): string;
  close(): Promise<void>;
}

/** Options of launchFirefox. */
export interface LaunchOptions {
  readonly dist: string;
  readonly firefox?: string;
  /** Limit for start-up and install together. */
  readonly timeoutMs?: number;
}

/** Prefs for a quiet, offline, test-friendly profile (Marionette adds its recommended ones too). */
function userJs(uuid: string): string {
  const prefs: Record<string, string | number | boolean> = {
    'marionette.port': 0,
    'extensions.webextensions.uuids': JSON.stringify({ [GECKO_ID]: uuid }),
    'app.update.disabledForTesting': true,
    'app.update.auto': false,
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.page': 0,
    'browser.startup.homepage_override.mstone': 'ignore',
    'browser.aboutwelcome.enabled': false,
    'browser.newtabpage.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'extensions.update.enabled': false,
    'extensions.getAddons.cache.enabled': false,
    // Marionette applies these too, but only once it starts: set them before anything can go out.
    'services.settings.server': 'data:,#remote-settings-dummy/v1',
    'app.normandy.api_url': '',
    'toolkit.telemetry.server': '',
    'browser.region.network.url': '',
    'devtools.console.stdout.content': true,
  };
  return Object.entries(prefs)
    .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
    .join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function killGroup(proc: ChildProcess): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    proc.kill('SIGKILL');
  }
}

/**
 * Starts headless Firefox and installs `dist` as a temporary add-on. Throws ProbeError:
 * BAD_INPUT when Firefox or the build is missing, TIMEOUT when start-up or install takes too long.
 */
export async function launchFirefox(opts: LaunchOptions): Promise<FirefoxSession> {
  const firefox = opts.firefox ?? FIREFOX;
  const dist = resolve(opts.dist);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!existsSync(firefox)) throw new ProbeError('BAD_INPUT', `Firefox not found at ${firefox} (apt-get install firefox-esr, or set FIREFOX_PATH).`);
  if (!existsSync(join(dist, 'manifest.json'))) throw new ProbeError('BAD_INPUT', `No built add-on in ${dist} (npm run build:firefox).`);
  const uuid = randomUUID();
  const profile = mkdtempSync(join(tmpdir(), 'probe-firefox-'));
  writeFileSync(join(profile, 'user.js'), userJs(uuid));
  const proc = spawn(firefox, ['-headless', '-marionette', '-no-remote', '-profile', profile], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // MOZ_REMOTE_ALLOW_SYSTEM_ACCESS lets Marionette navigate to moz-extension:// pages.
    env: { ...process.env, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1', MOZ_REMOTE_ALLOW_SYSTEM_ACCESS: '1' },
  });
  let log = '';
  const keep = (b: Buffer): void => {
    log = (log + b.toString('utf8')).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let spawnError: Error | null = null;
  proc.on('error', (e) => (spawnError = e));
  let marionette: Marionette | null = null;
  const cleanup = async (): Promise<void> => {
    if (marionette) {
      await marionette.command('Marionette:Quit', {}, 3_000).catch(() => undefined);
      marionette.close();
    }
    const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
    await Promise.race([exited, sleep(3_000)]);
    killGroup(proc);
    await Promise.race([exited, sleep(2_000)]);
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + timeoutMs;
    const portFile = join(profile, 'MarionetteActivePort');
    let port = 0;
    while (port === 0) {
      if (spawnError) throw new ProbeError('BAD_INPUT', `Firefox did not start: ${(spawnError as Error).message}`);
      if (proc.exitCode !== null) throw new ProbeError('INTERNAL', `Firefox exited (${proc.exitCode}) during start-up:\n${log}`);
      if (Date.now() > deadline) throw new ProbeError('TIMEOUT', `Firefox did not open Marionette within ${timeoutMs} ms:\n${log}`);
      if (existsSync(portFile)) port = Number(readFileSync(portFile, 'utf8').trim()) || 0;
      if (port === 0) await sleep(100);
    }
    const left = (): number => Math.max(1_000, deadline - Date.now());
    marionette = await Marionette.connect(port, left());
    await marionette.command('WebDriver:NewSession', { capabilities: { alwaysMatch: { acceptInsecureCerts: false } } }, left());
    const installed = await marionette.command('Addon:Install', { path: dist, temporary: true }, left());
    const addonId = typeof installed === 'string' ? installed : String((installed as { value?: Json }).value);
    const m = marionette;
    return {
      marionette: m,
      addonId,
      origin: `moz-extension://${uuid}`,
      output: () => log,
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** What the popup shows once it has talked to the background. */
export interface PopupProbe {
  /** The popup's data-status: 'idle' once the background answered `probe/get-state`. */
  readonly status: string;
  /** The error code the popup shows, if any. */
  readonly error: string | null;
  /** Milliseconds from navigation to that status. */
  readonly ms: number;
}

/**
 * Opens the add-on's popup page as a tab and waits until it leaves 'loading', i.e. until the
 * background script has answered its first message (or the popup shows an error).
 */
export async function probePopup(s: FirefoxSession, timeoutMs = 20_000): Promise<PopupProbe> {
  const t0 = Date.now();
  await s.marionette.command('WebDriver:Navigate', { url: `${s.origin}/${FIREFOX_POPUP_PATH}` }, timeoutMs);
  const read = `const el = document.querySelector('[data-testid="popup"]');
    const err = document.querySelector('[data-testid="error"]');
    return { status: el ? el.getAttribute('data-status') : null, error: err ? err.textContent : null };`;
  for (;;) {
    const got = (await s.marionette.command('WebDriver:ExecuteScript', { script: read, args: [] }, 5_000)) as {
      value?: { status?: Json; error?: Json };
    };
    const status = typeof got.value?.status === 'string' ? got.value.status : null;
    if (status !== null && status !== 'loading') {
      return { status, error: typeof got.value?.error === 'string' ? got.value.error : null, ms: Date.now() - t0 };
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new ProbeError('TIMEOUT', `The popup stayed "${status ?? 'absent'}" for ${timeoutMs} ms: the background never answered.\n${s.output()}`);
    }
    await sleep(100);
  }
}

/**
 * Sends one runtime message from the add-on's popup page (open it first with probePopup) and
 * returns the background's reply, exactly as the popup's connector would receive it.
 */
export async function sendFromPopup(s: FirefoxSession, message: Json, timeoutMs = 30_000): Promise<Json> {
  await s.marionette.command('WebDriver:SetTimeouts', { script: timeoutMs }, 5_000);
  const script = `const done = arguments[arguments.length - 1];
    browser.runtime.sendMessage(arguments[0]).then(
      (r) => done(JSON.stringify({ reply: r === undefined ? null : r })),
      (e) => done(JSON.stringify({ thrown: String(e && e.message ? e.message : e) })));`;
  const got = (await s.marionette.command('WebDriver:ExecuteAsyncScript', { script, args: [message] }, timeoutMs + 5_000)) as { value?: Json };
  if (typeof got.value !== 'string') throw new ProbeError('INTERNAL', 'The popup page returned no reply.');
  const parsed = JSON.parse(got.value) as { reply?: Json; thrown?: Json };
  if (typeof parsed.thrown === 'string') throw new ProbeError('INTERNAL', `runtime.sendMessage failed in Firefox: ${parsed.thrown}`);
  return parsed.reply ?? null;
}

/**
 * Runs an async script in the add-on's popup page (open it first with probePopup): `body` is the body of an
 * async function whose return value (JSON) comes back. For reading extension state (`browser.*`) in tests.
 */
export async function evalInPopup(s: FirefoxSession, body: string, timeoutMs = 15_000): Promise<Json> {
  await s.marionette.command('WebDriver:SetTimeouts', { script: timeoutMs }, 5_000);
  const script = `const done = arguments[arguments.length - 1];
    (async () => { ${body} })().then(
      (r) => done(JSON.stringify({ value: r === undefined ? null : r })),
      (e) => done(JSON.stringify({ thrown: String(e && e.message ? e.message : e) })));`;
  const got = (await s.marionette.command('WebDriver:ExecuteAsyncScript', { script, args: [] }, timeoutMs + 5_000)) as { value?: Json };
  if (typeof got.value !== 'string') throw new ProbeError('INTERNAL', 'The popup page returned nothing.');
  const parsed = JSON.parse(got.value) as { value?: Json; thrown?: Json };
  if (typeof parsed.thrown === 'string') throw new ProbeError('INTERNAL', `Popup script failed in Firefox: ${parsed.thrown}`);
  return parsed.value ?? null;
}

/**
 * Grants or withdraws host permissions of the installed add-on as Firefox's own add-on settings do
 * (ExtensionPermissions in the browser's privileged context, through Marionette's chrome context), so the
 * add-on sees permissions.onAdded / onRemoved exactly as after the user's choice.
 */
export async function setHostPermissions(s: FirefoxSession, op: 'add' | 'remove', origins: readonly string[], timeoutMs = 15_000): Promise<void> {
  await s.marionette.command('Marionette:SetContext', { value: 'chrome' }, 5_000);
  try {
    await s.marionette.command('WebDriver:SetTimeouts', { script: timeoutMs }, 5_000);
    const script = `const [id, op, origins] = arguments; const done = arguments[arguments.length - 1];
      (async () => {
        const { ExtensionPermissions } = ChromeUtils.importESModule('resource://gre/modules/ExtensionPermissions.sys.mjs');
        const policy = WebExtensionPolicy.getByID(id);
        if (!policy) throw new Error('no such add-on: ' + id);
        await ExtensionPermissions[op](id, { permissions: [], origins }, policy.extension);
      })().then(() => done('ok'), (e) => done('error: ' + (e && e.message ? e.message : e)));`;
    const got = (await s.marionette.command('WebDriver:ExecuteAsyncScript', { script, args: [s.addonId, op, [...origins]] }, timeoutMs + 5_000)) as { value?: Json };
    if (got.value !== 'ok') throw new ProbeError('INTERNAL', `Could not ${op} host permissions in Firefox: ${String(got.value)}`);
  } finally {
    await s.marionette.command('Marionette:SetContext', { value: 'content' }, 5_000);
  }
}
