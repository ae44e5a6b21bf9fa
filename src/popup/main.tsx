import { render } from 'preact';
import { App } from './App';
import type { Connector, LabConnector } from './connector';
import { createRuntimeConnector } from './runtime-connector';
import { CLASSROOM_PAGE, classroomUrl, resolveTabId } from './tab-id';

function inExtension(): boolean {
  return typeof chrome !== 'undefined' && typeof chrome.runtime?.id === 'string';
}

async function makeConnector(): Promise<{ connector: Connector & LabConnector; openClassroom?: () => void }> {
  if (!inExtension()) {
    // Opened outside the extension (e.g. the vite dev server): an in-memory connector,
    // `?mock=running|error|idle|done`, so the UI can be worked on without Chrome. Attacks run
    // for a few polls with progress, so the progress bar and Cancel can be tried too.
    const { createMockConnector } = await import('./mock-connector');
    const mode = new URLSearchParams(location.search).get('mock');
    const status = mode === 'running' || mode === 'error' || mode === 'idle' ? mode : 'done';
    const connector = createMockConnector({ status, runningPolls: status === 'running' ? 8 : undefined, attackPolls: 12, labPolls: 6, latencyMs: 150 });
    return { connector, openClassroom: () => window.open('./classroom.html', '_blank') };
  }
  const tabId = await resolveTabId(location.search, (info) => chrome.tabs.query(info));
  const openClassroom = (): void => {
    chrome.tabs.create({ url: classroomUrl(chrome.runtime.getURL(CLASSROOM_PAGE), tabId) }).catch(() => undefined);
  };
  return { connector: createRuntimeConnector(tabId), openClassroom };
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('popup: #app is missing');
  const { connector, openClassroom } = await makeConnector();
  render(<App connector={connector} lab={connector} onOpenClassroom={openClassroom} />, root);
}

void main();
