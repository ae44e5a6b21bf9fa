import type { ServiceDeps } from '../../src/background/service';
import { loadMnist } from '../../src/cli/data';
import { LIGHT, renderDigit } from '../../src/cli/png';

let test: ReturnType<typeof loadMnist> | undefined;

/**
 * ServiceDeps['capture'] over real MNIST test digits: the address "…/d<i>.png" captures test image i,
 * drawn as a page would show it (dark ink on light paper, 2× with a margin), read from the page.
 */
export const captureDigit: ServiceDeps['capture'] = async ({ srcUrl, pageUrl }) => {
  test ??= loadMnist('test');
  const i = Number(srcUrl.match(/d(\d+)/)?.[1] ?? 0);
  const image = renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 2, LIGHT.ink, LIGHT.paper, 4);
  return { image, source: { srcUrl, pageUrl, naturalWidth: image.width, naturalHeight: image.height, capturedBy: 'page' } };
};
