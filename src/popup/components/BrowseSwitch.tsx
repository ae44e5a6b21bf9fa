import { useEffect, useState } from 'preact/hooks';
import { toErrorInfo } from '../../core/errors';
import type { BrowseSite } from '../../protocol/types';
import { originPattern } from '../../protocol/site-access';

interface Props {
  readonly get: () => Promise<BrowseSite>;
  readonly set: (enabled: boolean) => Promise<BrowseSite>;
  /** Ask the browser to allow the extension on host patterns (badges need the site allowed); absent: no asking. */
  readonly allow?: (origins: readonly string[]) => Promise<boolean>;
}

/** Browse mode's per-site switch: "Badges on this site" for the current tab's origin (hidden on non-web pages). */
export function BrowseSwitch({ get, set, allow }: Props) {
  const [site, setSite] = useState<BrowseSite | null>(null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    get().then(
      (s) => live && setSite(s),
      () => live && setSite(null),
    );
    return () => {
      live = false;
    };
  }, [get]);

  if (site === null || site.origin === null) return null;
  const origin = site.origin;
  const toggle = async (enabled: boolean): Promise<void> => {
    setSaving(true);
    setError(null);
    try {
      // Badges read the site's images: switching them on asks the browser to allow the extension there first
      // (first thing in the click, as the browser requires). Switching off keeps the grant (a probe may use it).
      const pattern = originPattern(origin);
      if (enabled && allow && pattern !== null && !(await allow([pattern]))) {
        setError(`Badges need the extension to be allowed on ${new URL(origin).host}; it was not allowed, so nothing changed.`);
        return;
      }
      setSite(await set(enabled));
    } catch (e) {
      setError(toErrorInfo(e).message);
    } finally {
      setSaving(false);
    }
  };
  return (
    <section class="browse-switch" data-testid="browse" data-enabled={String(site.enabled)}>
      <label title={`Show each visible image's top class, confidence and the GPDNN's unsure flag on ${site.origin}`}>
        <input type="checkbox" data-testid="browse-switch" checked={site.enabled} disabled={saving} onChange={(e) => void toggle((e.currentTarget as HTMLInputElement).checked)} />{' '}
        Badges on this site <span class="muted small">({site.origin})</span>
      </label>
      {error !== null && (
        <p class="muted small" role="alert" data-testid="browse-error">
          {error}
        </p>
      )}
    </section>
  );
}
