import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { GrayImage } from '../../protocol/types';
import { drawGray, drawRgba, highlightChanges, isDrawable } from '../draw';

export interface ImageViewProps {
  readonly image: GrayImage;
  /** Caption under the image (plain text or elements; never HTML strings). */
  readonly caption: ComponentChildren;
  /** Accessible description of the picture. */
  readonly alt: string;
  readonly testId?: string;
  /** Displayed side in CSS pixels (the canvas keeps its natural size and is scaled). */
  readonly size?: number;
  /** A change of `image` (same layout): its non-zero pixels are painted in colour over a dimmed `image`. */
  readonly changes?: GrayImage;
}

/** A grayscale image drawn on a canvas, scaled up with crisp pixels. */
export function ImageView({ image, caption, alt, testId, size = 112, changes }: ImageViewProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    if (changes && isDrawable(image)) drawRgba(canvas, image.width, image.height, highlightChanges(image, changes));
    else drawGray(canvas, image);
  }, [image, changes]);
  return (
    <figure class="image-view" data-testid={testId}>
      <canvas
        ref={ref}
        class="pixelated"
        width={image.width}
        height={image.height}
        style={{ width: `${size}px`, height: `${size}px` }}
        role="img"
        aria-label={alt}
      />
      <figcaption>{caption}</figcaption>
    </figure>
  );
}
