import type { DatasetId } from '../core/models/catalog';
import { loadFashionMnist, loadMnist, type Dataset, type Split } from './data';

/** The images of `ds` whose label is in `classes`, relabelled to their index in `classes` (order kept). */
export function subsetDataset(ds: Dataset, classes: readonly number[]): Dataset {
  const px = ds.rows * ds.cols;
  const map = new Int16Array(10).fill(-1);
  classes.forEach((c, i) => { map[c] = i; });
  let n = 0;
  for (let i = 0; i < ds.n; i++) if (map[ds.labels[i]] >= 0) n++;
  const images = new Float32Array(n * px);
  const labels = new Uint8Array(n);
  let j = 0;
  for (let i = 0; i < ds.n; i++) {
    const c = map[ds.labels[i]];
    if (c < 0) continue;
    images.set(ds.images.subarray(i * px, (i + 1) * px), j * px);
    labels[j++] = c;
  }
  return { images, labels, n, rows: ds.rows, cols: ds.cols };
}

/** MNIST restricted to 3s and 7s, relabelled 3 → 0 and 7 → 1 (Goodfellow et al.'s binary task). */
export function loadThreeSeven(split: Split): Dataset {
  return subsetDataset(loadMnist(split), [3, 7]);
}

/** The split of a catalog dataset, as the models trained on it see it. */
export function datasetSplit(dataset: DatasetId, split: Split): Dataset {
  if (dataset === 'fashion-mnist') return loadFashionMnist(split);
  if (dataset === 'mnist-3v7') return loadThreeSeven(split);
  return loadMnist(split);
}
