import type { PreprocessMode } from './types';

export type DatasetId = 'mnist' | 'fashion-mnist' | 'mnist-3v7';

/** What a catalog entry loads as: a Classifier, a Vae, or an Uncertain (Classifier with predictive variance). */
export type ModelKind = 'classifier' | 'vae' | 'uncertain';

/**
 * How the saved model's output becomes logits: 'logits' as is; 'probs' (softmax layer) → log p;
 * 'binary-logit' (one unit z, logistic regression) → [0, z], whose softmax is [1 − σ(z), σ(z)].
 */
export type OutputKind = 'logits' | 'probs' | 'binary-logit';

/** Static facts about a shipped model; the measured numbers live in models/<id>/card.json. */
export interface CatalogEntry {
  readonly id: string;
  readonly dataset: DatasetId;
  readonly title: string;
  readonly kind: ModelKind;
  /** On-disk format: a plain tfjs LayersModel, or a family-specific bundle (see load.ts). */
  readonly format: 'layers' | 'vae' | 'gpdnn';
  readonly preprocess: PreprocessMode;
  readonly output: OutputKind;
  /** The paper it reproduces. */
  readonly paper: string;
}

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];
/** Goodfellow et al.'s binary task: class 0 = digit 3, class 1 = digit 7. */
export const THREE_SEVEN_CLASSES: readonly string[] = ['3', '7'];

const mnist = (id: string, title: string, paper: string, extra: Partial<CatalogEntry> = {}): CatalogEntry => ({
  id,
  dataset: 'mnist',
  title,
  kind: 'classifier',
  format: 'layers',
  preprocess: 'mnist',
  output: 'logits',
  paper,
  ...extra,
});

/** Every shipped model, in the order the popup lists them. The extension and the CLI both read this list. */
export const CATALOG: readonly CatalogEntry[] = [
  mnist('mnist-lenet', 'LeNet CNN', 'Papernot et al. 2016'),
  mnist('mnist-softmax', 'Softmax regression 784→10', 'Goodfellow et al. 2015'),
  mnist('mnist-fc10-1e-4', 'Softmax, weight decay λ=1e-4', 'Szegedy et al. 2014'),
  mnist('mnist-fc10-1e-2', 'Softmax, weight decay λ=1e-2', 'Szegedy et al. 2014'),
  mnist('mnist-fc10-1', 'Softmax, weight decay λ=1', 'Szegedy et al. 2014'),
  mnist('mnist-fc100-100-10', 'Sigmoid MLP 100-100-10', 'Szegedy et al. 2014'),
  mnist('mnist-fc200-200-10', 'Sigmoid MLP 200-200-10', 'Szegedy et al. 2014'),
  mnist('mnist-ae400-10', 'Autoencoder 400 + softmax', 'Szegedy et al. 2014'),
  mnist('mnist-lr-3v7', 'Logistic regression, 3 vs 7', 'Goodfellow et al. 2015', { dataset: 'mnist-3v7', output: 'binary-logit' }),
  mnist('mnist-lr-3v7-adv', 'Logistic regression, 3 vs 7, adversarially trained', 'Goodfellow et al. 2015', {
    dataset: 'mnist-3v7',
    output: 'binary-logit',
  }),
  mnist('mnist-maxout', 'Maxout MLP 240×5 ×2, dropout', 'Goodfellow et al. 2015'),
  mnist('mnist-maxout-adv', 'Maxout MLP 400×5 ×2, adversarially trained (ε=0.25)', 'Goodfellow et al. 2015'),
  mnist('mnist-ensemble-5', 'Ensemble of 5 maxout nets', 'Goodfellow et al. 2015', { output: 'probs' }),
  mnist('mnist-vae', 'Variational autoencoder', 'Kos et al. 2017', { kind: 'vae', format: 'vae' }),
  mnist('mnist-vae-clf', 'Classifier on the VAE latent mean', 'Kos et al. 2017'),
  mnist('mnist-gpdnn', 'GPDNN: CNN + sparse variational GP', 'Bradshaw et al. 2017', { kind: 'uncertain', format: 'gpdnn' }),
  mnist('mnist-gpdnn-nn', 'GPDNN’s CNN with a softmax head', 'Bradshaw et al. 2017'),
  {
    id: 'fashion-cnn',
    dataset: 'fashion-mnist',
    title: 'Fashion-MNIST CNN',
    kind: 'classifier',
    format: 'layers',
    preprocess: 'resize',
    output: 'logits',
    paper: 'domain-shift set',
  },
];

export const DEFAULT_MODEL_ID = 'mnist-lenet';

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

export function classNamesFor(dataset: DatasetId): readonly string[] {
  if (dataset === 'fashion-mnist') return FASHION_CLASSES;
  if (dataset === 'mnist-3v7') return THREE_SEVEN_CLASSES;
  return MNIST_CLASSES;
}

/** Catalog entries that classify images (what the popup's model picker lists). */
export function classifierEntries(): CatalogEntry[] {
  return CATALOG.filter((e) => e.kind !== 'vae');
}
