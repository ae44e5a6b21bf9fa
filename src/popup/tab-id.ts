/** The tab id from a popup URL's query (`?tab=<id>`), or null when absent or invalid. */
export function tabIdFromSearch(search: string): number | null {
  const raw = new URLSearchParams(search).get('tab');
  if (raw === null || !/^\d{1,15}$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

/** Path of the classroom page inside the built extension. */
export const CLASSROOM_PAGE = 'src/popup/classroom.html';

/** The classroom page's URL for tab `tabId` (`?tab=<id>`; null: no query, the most recent probe). `pageUrl` is the page's extension URL. */
export function classroomUrl(pageUrl: string, tabId: number | null): string {
  return tabId === null ? pageUrl : `${pageUrl}?tab=${tabId}`;
}

/** Minimal view of chrome.tabs.query that resolveTabId needs. */
export type QueryTabs = (info: { active: boolean; currentWindow: boolean }) => Promise<ReadonlyArray<{ id?: number }>>;

/**
 * The tab the popup is about: `?tab=<id>` when given, else the active tab of the current
 * window, else null (the background then answers for the most recent probe).
 */
export async function resolveTabId(search: string, queryTabs: QueryTabs | null): Promise<number | null> {
  const fromQuery = tabIdFromSearch(search);
  if (fromQuery !== null) return fromQuery;
  if (!queryTabs) return null;
  try {
    const tabs = await queryTabs({ active: true, currentWindow: true });
    const id = tabs[0]?.id;
    return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
  } catch {
    return null;
  }
}
