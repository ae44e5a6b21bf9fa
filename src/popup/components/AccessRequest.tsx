import { useState } from 'preact/hooks';
import { toErrorInfo } from '../../core/errors';
import { hostOfPattern } from '../../protocol/site-access';

interface Props {
  /** Host patterns to ask for ("https://cdn.example.com/*"). */
  readonly origins: readonly string[];
  /** The browser's permission prompt (connector.requestAccess): called first thing in the click. */
  readonly request: (origins: readonly string[]) => Promise<boolean>;
  /** Probe again once allowed. */
  readonly retry: () => Promise<void>;
}


/**
 * NO_ACCESS: the extension runs with no standing access to sites. One button asks the browser to allow the
 * named hosts (its own prompt, which the user answers) and probes the image again.
 */
export function AccessRequest({ origins, request, retry }: Props) {
  const [answer, setAnswer] = useState<'asking' | 'denied' | 'failed' | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const hosts = origins.map(hostOfPattern);
  const ask = async (): Promise<void> => {
    setAnswer('asking');
    setMessage(null);
    try {
      // Nothing awaited before this: the browser only prompts inside the user's click.
      const ok = await request(origins);
      if (!ok) {
        setAnswer('denied');
        return;
      }
      setAnswer(null);
      await retry();
    } catch (e) {
      setAnswer('failed');
      setMessage(toErrorInfo(e).message);
    }
  };
  return (
    <section class="access" data-testid="access" data-hosts={hosts.join(' ')}>
      <p>
        The extension reads page images only where you allow it. Allow it on <strong>{hosts.join(', ')}</strong> to probe this image (you can withdraw this in the browser’s extension settings).
      </p>
      <button type="button" data-testid="grant-access" disabled={answer === 'asking'} onClick={() => void ask()}>
        Allow on {hosts.length === 1 ? hosts[0] : `${hosts.length} sites`} and probe again
      </button>
      {answer === 'denied' && (
        <p class="muted small" role="status" data-testid="grant-denied">
          Not allowed: nothing was read from {hosts.join(', ')}.
        </p>
      )}
      {answer === 'failed' && message !== null && (
        <p class="muted small" role="alert" data-testid="grant-error">
          {message}
        </p>
      )}
    </section>
  );
}
