import { useCallback, useEffect, useState } from 'preact/hooks';
import { toErrorInfo } from '../../core/errors';
import { hostOfPattern } from '../../protocol/site-access';

interface Props {
  /** The host patterns the user has allowed (chrome.permissions.getAll().origins). */
  readonly list: () => Promise<string[]>;
  /** Withdraw them (chrome.permissions.remove). */
  readonly remove: (origins: readonly string[]) => Promise<boolean>;
}

/** "example.com" for "https://example.com/*"; the pattern itself otherwise (e.g. "<all_urls>": every site). */
export function patternLabel(p: string): string {
  if (p === '<all_urls>' || p === '*://*/*') return 'every site';
  const scheme = /^(https?):/.exec(p)?.[1];
  return scheme ? `${hostOfPattern(p)} (${scheme})` : hostOfPattern(p);
}

/**
 * The sites the extension may read, as the user allowed them, each with "Remove" (the same as withdrawing it in
 * the browser's extension settings). Collapsed by default; nothing to show when none is allowed.
 */
export function SiteAccess({ list, remove }: Props) {
  const [sites, setSites] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(() => {
    list().then(
      (s) => setSites([...s].sort()),
      (e: unknown) => setError(toErrorInfo(e).message),
    );
  }, [list]);
  useEffect(refresh, [refresh]);
  if (sites === null || sites.length === 0) return null;
  const drop = async (p: string): Promise<void> => {
    setError(null);
    try {
      if (!(await remove([p]))) setError(`${patternLabel(p)} could not be removed.`);
    } catch (e) {
      setError(toErrorInfo(e).message);
    }
    refresh();
  };
  return (
    <details class="site-access" data-testid="site-access" onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && refresh()}>
      <summary>
        Sites allowed <span class="muted small">({sites.length})</span>
      </summary>
      <ul>
        {sites.map((p) => (
          <li key={p} data-testid="site-access-item" data-pattern={p}>
            {patternLabel(p)}{' '}
            <button type="button" class="secondary" data-testid="site-access-remove" aria-label={`Remove access to ${patternLabel(p)}`} onClick={() => void drop(p)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      {error !== null && (
        <p class="muted small" role="alert" data-testid="site-access-error">
          {error}
        </p>
      )}
    </details>
  );
}
