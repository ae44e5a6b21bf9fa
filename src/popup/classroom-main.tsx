import { render } from 'preact';
import { Classroom } from './components/Classroom';
import type { Connector, LabConnector } from './connector';
import { createRuntimeConnector } from './runtime-connector';
import { tabIdFromSearch } from './tab-id';

async function makeConnector(): Promise<Connector & LabConnector> {
  if (typeof chrome === 'undefined' || typeof chrome.runtime?.id !== 'string') {
    // Outside the extension (the vite dev server): the in-memory connector, as the popup does.
    const { createMockConnector } = await import('./mock-connector');
    return createMockConnector({ attackPolls: 4, labPolls: 6, latencyMs: 150 });
  }
  // The classroom is a tab of its own: the probed tab comes only from ?tab= (null: the most recent probe).
  return createRuntimeConnector(tabIdFromSearch(location.search));
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('classroom: #app is missing');
  const connector = await makeConnector();
  render(<Classroom connector={connector} lab={connector} />, root);
}

void main();
