import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../../src/cli/data';
import { dirModelFiles, loadShippedClassifier, MODELS_DIR } from '../../../src/cli/models';
import { ensembleFromLayersModel, ensembleVote, loadEnsemble, tallyVotes } from '../../../src/core/defenses/ensemble';
import { MNIST_CLASSES } from '../../../src/core/models/catalog';
import { randomImages } from '../../helpers/tiny';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A tiny ensemble in the shipped layout: members m<k>_logits → m<k>_softmax, averaged. */
function tinyEnsemble(members: number): tf.LayersModel {
  const image = tf.input({ shape: [28, 28, 1] });
  const flat = tf.layers.flatten().apply(image) as tf.SymbolicTensor;
  const probs = Array.from({ length: members }, (_, k) => {
    const logits = tf.layers.dense({ units: 10, name: `m${k}_logits`, kernelInitializer: tf.initializers.glorotUniform({ seed: 10 + k }) }).apply(flat) as tf.SymbolicTensor;
    return tf.layers.activation({ activation: 'softmax', name: `m${k}_softmax` }).apply(logits) as tf.SymbolicTensor;
  });
  return tf.model({ inputs: image, outputs: tf.layers.average().apply(probs) as tf.SymbolicTensor });
}

describe('tallyVotes', () => {
  it('counts votes, picks the majority and its agreement', () => {
    const meanProbs = new Float32Array(2 * 3).fill(1 / 3);
    const r = tallyVotes([[0, 2], [0, 1], [1, 2]], meanProbs, 3);
    expect(Array.from(r.votes)).toEqual([2, 1, 0, 0, 1, 2]);
    expect(Array.from(r.majority)).toEqual([0, 2]);
    expect(Array.from(r.agreement)).toEqual([2 / 3, 2 / 3]);
    expect(r).toMatchObject({ n: 2, classes: 3, members: 3 });
  });

  it('breaks a tie by the highest mean probability, then by the lower class', () => {
    const r = tallyVotes([[0, 0], [2, 2]], Float32Array.from([0.2, 0.1, 0.7, 0.4, 0.2, 0.4]), 3);
    expect(Array.from(r.majority)).toEqual([2, 0]);
    expect(Array.from(r.agreement)).toEqual([0.5, 0.5]);
  });

  it.each([
    [[], 3],
    [[[0, 1], [0]], 3],
    [[[0, 5]], 3],
    [[[0, 1]], 0],
  ])('rejects %j with %s classes (BAD_INPUT)', (labels, classes) => {
    expect(() => tallyVotes(labels, new Float32Array(2 * Math.max(classes, 1)), classes)).toThrowError(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('ensembleVote (tiny ensemble)', () => {
  it('members are the m<k>_logits layers; votes match each member; the mean is the model output', async () => {
    const ens = ensembleFromLayersModel(tinyEnsemble(3), 'tiny-ens', MNIST_CLASSES);
    expect(ens.members.map((m) => m.id)).toEqual(['tiny-ens[m0]', 'tiny-ens[m1]', 'tiny-ens[m2]']);
    const x = randomImages(8, 4);
    const base = tf.memory().numTensors;
    const v = await ensembleVote(ens, x);
    expect(tf.memory().numTensors).toBe(base);
    const memberLabels = ens.members.map((m) => tf.tidy(() => Array.from(tf.argMax(m.logits(x), 1).dataSync())));
    const meanLabels = tf.tidy(() => Array.from(tf.argMax(ens.mean.logits(x), 1).dataSync()));
    expect(Array.from(v.meanLabels)).toEqual(meanLabels);
    for (let i = 0; i < 8; i++) {
      const row = Array.from(v.votes.subarray(i * 10, i * 10 + 10));
      expect(row.reduce((a, b) => a + b, 0)).toBe(3);
      for (let c = 0; c < 10; c++) expect(row[c]).toBe(memberLabels.filter((l) => l[i] === c).length);
      expect(v.agreement[i]).toBeCloseTo(row[v.majority[i]] / 3, 6);
      expect(Math.max(...row)).toBe(row[v.majority[i]]);
    }
    // Members share the weights: disposing one does nothing; the ensemble's dispose frees them all.
    ens.members[0].dispose();
    ens.mean.dispose();
    expect(tf.memory().numTensors).toBe(base);
    ens.dispose();
    expect(tf.memory().numTensors).toBeLessThan(base);
    x.dispose();
  });

  it('a model without member layers is not an ensemble (MODEL_LOAD_FAILED); a wrong batch is BAD_INPUT', async () => {
    const plain = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10 })] });
    expect(() => ensembleFromLayersModel(plain, 'plain', MNIST_CLASSES)).toThrowError(expect.objectContaining({ code: 'MODEL_LOAD_FAILED' }));
    plain.dispose();
    const ens = ensembleFromLayersModel(tinyEnsemble(2), 'tiny', MNIST_CLASSES);
    const wrong = tf.zeros([1, 28, 28, 3]) as tf.Tensor4D;
    await expect(ensembleVote(ens, wrong)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    wrong.dispose();
    ens.dispose();
    await expect(loadEnsemble('mnist-lenet', dirModelFiles(join(MODELS_DIR, 'mnist-lenet')))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(loadEnsemble('nope', dirModelFiles(join(MODELS_DIR, 'nope')))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });
});

describe('shipped mnist-ensemble-5 on real MNIST test digits', () => {
  it('has 5 members; its mean prediction equals the shipped classifier; majority vote is accurate', async () => {
    const ens = await loadEnsemble('mnist-ensemble-5', dirModelFiles(join(MODELS_DIR, 'mnist-ensemble-5')));
    const clf = await loadShippedClassifier('mnist-ensemble-5');
    expect(ens.members).toHaveLength(5);
    const test = loadMnist('test');
    const n = 60;
    const x = tf.tensor4d(test.images.subarray(0, n * 784), [n, 28, 28, 1]);
    const base = tf.memory().numTensors;
    const v = await ensembleVote(ens, x);
    expect(tf.memory().numTensors).toBe(base);
    const shipped = tf.tidy(() => Array.from(tf.argMax(clf.logits(x), 1).dataSync()));
    expect(Array.from(v.meanLabels)).toEqual(shipped);
    let right = 0;
    for (let i = 0; i < n; i++) if (v.majority[i] === test.labels[i]) right++;
    expect(right / n).toBeGreaterThan(0.9);
    const meanAgreement = v.agreement.reduce((a, b) => a + b, 0) / n;
    expect(meanAgreement).toBeGreaterThan(0.9);
    expect(meanAgreement).toBeLessThanOrEqual(1);
    x.dispose();
    clf.dispose();
    ens.dispose();
  });
});
