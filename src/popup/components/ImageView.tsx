import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { GrayImage } from '../../protocol/types';
import { drawGray } from '../draw';

export interface ImageViewProps {
  readonly image: GrayImage;
  /** Caption under the image (plain text or elements; never HTML strings). */
  readonly caption: ComponentChildren;
  /** Accessible description of the picture. */
  readonly alt: string;
  readonly testId?: string;
  /** Displayed side in CSS pixels (the canvas keeps its natural size and is scaled). */
  readonly size?: number;
}

/** A grayscale image drawn on a canvas, scaled up with crisp pixels. */
export function ImageView({ image, caption, alt, testId, size = 112 }: ImageViewProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) drawGray(ref.current, image);
  }, [image]);
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
