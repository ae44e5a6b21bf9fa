import { useEffect, useState } from 'preact/hooks';
import { base64ToBytes } from '../protocol/base64';

/** Makes and revokes Blob URLs; replaceable in tests. */
export interface BlobUrls {
  create(blob: Blob): string;
  revoke(url: string): void;
}

export const browserBlobUrls: BlobUrls = {
  create: (b) => URL.createObjectURL(b),
  revoke: (u) => URL.revokeObjectURL(u),
};

/** A Blob URL for `content` (base64 bytes or text) of MIME `type`, revoked when it changes or the component goes; null for null content. */
export function useBlobUrl(content: { readonly base64: string } | { readonly text: string } | null, type: string, urls: BlobUrls = browserBlobUrls): string | null {
  const [url, setUrl] = useState<string | null>(null);
  const key = content === null ? null : 'base64' in content ? `b:${content.base64}` : `t:${content.text}`;
  useEffect(() => {
    if (content === null) {
      setUrl(null);
      return undefined;
    }
    const body: BlobPart = 'base64' in content ? (base64ToBytes(content.base64) as Uint8Array<ArrayBuffer>) : content.text;
    const u = urls.create(new Blob([body], { type }));
    setUrl(u);
    return () => urls.revoke(u);
  }, [key, type, urls]);
  return url;
}
