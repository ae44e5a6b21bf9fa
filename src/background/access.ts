import { ProbeError } from '../core/errors';
import { hostOf, originPattern } from '../protocol/site-access';
import { LOCAL_FILE_MESSAGE } from '../content/message';

/**
 * Least privilege (issue 7): the extension installs with no host permission and no static content script.
 * - A right-click on "Probe this image" grants `activeTab` for that tab: the content script is injected on
 *   demand into the clicked frame (`scripting.executeScript`) and finds the image by its address.
 * - Sites the user allows (optional host permissions, asked from the popup with a click) get the content
 *   script registered at document_start (`scripting.registerContentScripts`): precise targeting of the
 *   right-clicked element (CSS backgrounds, overlays, shadow DOM) and browse-mode badges there.
 * - The extension's own fetch of an image (for images the page cannot hand over) needs that image's origin
 *   allowed; otherwise the probe ends with NO_ACCESS naming the origins to allow, and the popup offers the grant.
 * Everything chrome.* is behind AccessDeps so the logic is tested in Node.
 */

/** Id of the registered content script (one registration covering every allowed origin). */
export const CONTENT_SCRIPT_ID = 'probe-content';

/** A registration as chrome.scripting takes it (the fields this extension sets). */
export interface ContentScriptRegistration {
  readonly id: string;
  readonly js: string[];
  readonly matches: string[];
  readonly allFrames: boolean;
  readonly runAt: 'document_start';
  readonly persistAcrossSessions: boolean;
}

export interface AccessDeps {
  /** chrome.permissions.getAll().origins */
  grantedOrigins(): Promise<string[]>;
  /** chrome.permissions.contains({ origins: [pattern] }) */
  granted(pattern: string): Promise<boolean>;
  /** Ids of this extension's registered content scripts. */
  registeredIds(): Promise<string[]>;
  register(script: ContentScriptRegistration): Promise<void>;
  update(script: ContentScriptRegistration): Promise<void>;
  unregister(id: string): Promise<void>;
  /** chrome.scripting.executeScript({ target: { tabId, frameIds: [frameId] }, files: [file] }) */
  inject(tabId: number, frameId: number, file: string): Promise<void>;
}

/** An error that names the origins the user can allow to fix it (shown as a grant button in the popup). */
export class AccessError extends ProbeError {
  readonly origins: readonly string[];
  constructor(message: string, origins: readonly string[]) {
    super('NO_ACCESS', message);
    this.name = 'AccessError';
    this.origins = origins;
  }
}

/** Patterns a content-script registration may use: http(s)/wildcard-scheme patterns and <all_urls> (no file://, no chrome-extension://). */
export function scriptMatches(origins: readonly string[]): string[] {
  const out: string[] = [];
  for (const o of origins) {
    if (o === '<all_urls>' || /^(https?|\*):\/\/[^/]+\/.*$/.test(o)) {
      if (!out.includes(o)) out.push(o);
    }
  }
  return out.sort();
}

/**
 * Keeps the registered content script in step with the origins the user has allowed. Calls are serialised:
 * permission events and start-up may race, and chrome.scripting refuses a second registration of one id.
 */
export class ContentScriptSync {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AccessDeps, private readonly file: string, private readonly persist = true) {}

  /** Register, update or remove the content script so that it runs exactly on the allowed origins. */
  sync(): Promise<void> {
    const run = this.chain.then(() => this.once());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async once(): Promise<void> {
    const matches = scriptMatches(await this.deps.grantedOrigins());
    const registered = (await this.deps.registeredIds()).includes(CONTENT_SCRIPT_ID);
    if (matches.length === 0) {
      if (registered) await this.deps.unregister(CONTENT_SCRIPT_ID);
      return;
    }
    const script: ContentScriptRegistration = {
      id: CONTENT_SCRIPT_ID,
      js: [this.file],
      matches,
      allFrames: true,
      runAt: 'document_start',
      persistAcrossSessions: this.persist,
    };
    if (registered) await this.deps.update(script);
    else await this.deps.register(script);
  }
}

/**
 * The content script into one frame, on demand: allowed by `activeTab` after the user's right-click, or by a
 * granted origin. Restricted pages (chrome://, the web store, file:// without the user's file-access switch)
 * give UNSUPPORTED_PAGE; an http(s) frame the extension may not script gives NO_ACCESS naming its origin.
 */
export async function injectContentScript(deps: AccessDeps, file: string, target: { tabId: number; frameId: number; frameUrl: string | null; srcUrl: string }): Promise<void> {
  try {
    await deps.inject(target.tabId, target.frameId, file);
  } catch (e) {
    const pattern = originPattern(target.frameUrl);
    if (pattern === null) {
      throw new ProbeError('UNSUPPORTED_PAGE', restrictedMessage(target.frameUrl || target.srcUrl));
    }
    const detail = e instanceof Error && e.message ? ` (${e.message.slice(0, 160)})` : '';
    throw new AccessError(
      `The extension may not read ${hostOf(target.frameUrl as string)} yet${detail}. Right-click the image and choose “Probe this image” again, or allow the extension on this site.`,
      [pattern],
    );
  }
}

function restrictedMessage(url: string): string {
  if (url.startsWith('file:')) return LOCAL_FILE_MESSAGE;
  return 'The extension cannot read this page: browser pages (chrome://, the web store) are closed to extensions.';
}

/**
 * Before the extension fetches an image itself: is its origin allowed? NO_ACCESS (naming the origin) if not,
 * so the popup can ask for exactly that host; UNSUPPORTED_PAGE for addresses no grant can cover.
 */
export async function requireFetchAccess(deps: Pick<AccessDeps, 'granted'>, srcUrl: string): Promise<void> {
  if (srcUrl.startsWith('data:') || srcUrl.startsWith('blob:')) return;
  const pattern = originPattern(srcUrl);
  if (pattern === null) throw new ProbeError('UNSUPPORTED_PAGE', restrictedMessage(srcUrl));
  if (await deps.granted(pattern)) return;
  throw new AccessError(
    `The page would not hand this image over, and the extension may not download it from ${hostOf(srcUrl)} itself. Allow the extension to read images from ${hostOf(srcUrl)} and probe it again.`,
    [pattern],
  );
}

/** The page's refusal with the image host's refusal folded in: one NO_ACCESS naming every origin to allow. */
export function mergeAccess(page: AccessError, image: AccessError | null): AccessError {
  if (!image || image.origins.every((o) => page.origins.includes(o))) return page;
  const origins = [...page.origins, ...image.origins.filter((o) => !page.origins.includes(o))];
  return new AccessError(`${page.message} The image itself is on another host the extension may not read: ${image.origins.join(', ')}.`, origins);
}
