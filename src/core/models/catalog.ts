import type { PreprocessMode } from './types';

export type DatasetId = 'mnist' | 'fashion-mnist';

/** Static facts about a shipped model; the measured numbers live in models/<id>/card.json. */
export interface CatalogEntry {
  readonly id: string;
  readonly dataset: DatasetId;
  readonly title: string;
  readonly kind: 'classifier';
  readonly preprocess: PreprocessMode;
  /** Which tensor the saved model outputs: 'logits' or 'probs' (a softmax layer). */
  readonly output: 'logits' | 'probs';
}

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Every shipped model. The extension and the CLI both read this list. */
export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'mnist-lenet',
    dataset: 'mnist',
    title: 'LeNet CNN (Papernot et al.)',
    kind: 'classifier',
    preprocess: 'mnist',
    output: 'logits',
  },
];

export const DEFAULT_MODEL_ID = 'mnist-lenet';

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

export function classNamesFor(dataset: DatasetId): readonly string[] {
  return dataset === 'mnist' ? MNIST_CLASSES : FASHION_CLASSES;
}
