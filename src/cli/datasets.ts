import type { DatasetId } from '../core/models/catalog';
import { loadFashionMnist, loadMnist, type Dataset, type Split } from './data';

/** MNIST restricted to 3s and 7s, relabelled 3 → 0 and 7 → 1 (Goodfellow et al.'s binary task). */
export function loadThreeSeven(split: Split): Dataset {
  const all = loadMnist(split);
  const keep: number[] = [];
  for (let i = 0; i < all.n; i++) if (all.labels[i] === 3 || all.labels[i] === 7) keep.push(i);
  const images = new Float32Array(keep.length * 784);
  const labels = new Uint8Array(keep.length);
  keep.forEach((src, dst) => {
    images.set(all.images.subarray(src * 784, (src + 1) * 784), dst * 784);
    labels[dst] = all.labels[src] === 7 ? 1 : 0;
  });
  return { images, labels, n: keep.length, rows: 28, cols: 28 };
}

/** The split of a catalog dataset, as the models trained on it see it. */
export function datasetSplit(dataset: DatasetId, split: Split): Dataset {
  if (dataset === 'fashion-mnist') return loadFashionMnist(split);
  if (dataset === 'mnist-3v7') return loadThreeSeven(split);
  return loadMnist(split);
}
