import { describe, expect, it } from 'vitest';
import { fromContentScript, senderAllowed, SENDERS } from '../../src/protocol/messages';

const ID = 'abcdefghijklmnop';
const ORIGIN = `chrome-extension://${ID}/`;
const popup = { id: ID, url: `${ORIGIN}src/popup/index.html` };
const contentScript = { id: ID, url: 'http://127.0.0.1:8080/digits.html', tab: { id: 4 } };

describe('browse-mode message senders', () => {
  it('badge requests and clicks come only from this extension’s content scripts in a tab', () => {
    for (const type of ['browse/classify', 'browse/open'] as const) {
      expect(SENDERS[type]).toBe('content-script');
      expect(senderAllowed(type, contentScript, ID, ORIGIN)).toBe(true);
      expect(senderAllowed(type, popup, ID, ORIGIN)).toBe(false);
      expect(senderAllowed(type, { ...contentScript, id: 'other' }, ID, ORIGIN)).toBe(false);
      expect(senderAllowed(type, { id: ID, url: contentScript.url }, ID, ORIGIN)).toBe(false);
      // An extension page shown in a tab is not a content script.
      expect(senderAllowed(type, { ...popup, tab: { id: 4 } }, ID, ORIGIN)).toBe(false);
    }
  });

  it('the site switch comes only from extension pages; content/browse is never accepted by the background', () => {
    for (const type of ['browse/get-site', 'browse/set-site'] as const) {
      expect(senderAllowed(type, popup, ID, ORIGIN)).toBe(true);
      expect(senderAllowed(type, contentScript, ID, ORIGIN)).toBe(false);
    }
    expect(senderAllowed('content/browse', popup, ID, ORIGIN)).toBe(false);
    expect(senderAllowed('content/browse', contentScript, ID, ORIGIN)).toBe(false);
    expect(fromContentScript(contentScript, ID, ORIGIN)).toBe(true);
    expect(fromContentScript({ ...contentScript, tab: {} }, ID, ORIGIN)).toBe(false);
  });
});
