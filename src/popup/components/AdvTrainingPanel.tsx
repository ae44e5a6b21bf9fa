import type { AdvTrainingPair, AdvTrainingSide, AdvTrainingView, GrayImage } from '../../protocol/types';
import { formatDistance, formatEps, formatPercent } from '../format';
import { ImageView } from './ImageView';

/** The weights as two images: w scaled to [0, 1] around 0.5 (grey = 0), and sign(w) (white +, black −). */
export function weightImages(w: { readonly width: number; readonly height: number; readonly values: readonly number[] }): { w: GrayImage; sign: GrayImage; maxAbs: number } {
  const maxAbs = w.values.reduce((a, v) => Math.max(a, Number.isFinite(v) ? Math.abs(v) : 0), 0);
  const k = maxAbs > 0 ? 0.5 / maxAbs : 0;
  return {
    w: { width: w.width, height: w.height, pixels: w.values.map((v) => 0.5 + v * k) },
    sign: { width: w.width, height: w.height, pixels: w.values.map((v) => (v > 0 ? 1 : v < 0 ? 0 : 0.5)) },
    maxAbs,
  };
}

function SideCell({ s, testId }: { readonly s: AdvTrainingSide; readonly testId: string }) {
  return (
    <td data-testid={testId} data-fooled={s.success ? 'true' : 'false'}>
      <ImageView image={s.image} size={56} alt={`adversarial crafted on ${s.modelId}`} caption={<code>{s.modelId}</code>} />
      <div class="small">
        clean <strong data-testid={`${testId}-clean`}>{s.clean.className}</strong> ({formatPercent(s.clean.confidence)})
      </div>
      <div class="small">
        adversarial <strong data-testid={`${testId}-adv`}>{s.adversarial.className}</strong> ({formatPercent(s.adversarial.confidence)})
      </div>
      <span class={`badge ${s.success ? 'fooled' : 'held'}`}>{s.success ? 'fooled' : 'held'}</span>
      <div class="muted small">
        L∞ {formatDistance(s.linf)} · L2 {formatDistance(s.l2)}
      </div>
    </td>
  );
}

function PairTable({ pair, name }: { readonly pair: AdvTrainingPair; readonly name: string }) {
  return (
    <table class="lab-table adv-pair" data-testid={`adv-pair-${name}`}>
      <thead>
        <tr>
          <th scope="col">{pair.base.title}</th>
          <th scope="col">{pair.trained.title}</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <SideCell s={pair.base} testId={`adv-${name}-base`} />
          <SideCell s={pair.trained} testId={`adv-${name}-trained`} />
        </tr>
      </tbody>
    </table>
  );
}

/**
 * Adversarial training side by side: the current image and attack crafted on a model and on its
 * adversarially trained twin (clean and adversarial prediction and confidence for each); the 3-vs-7
 * logistic regression's weights w and sign(w) beside its FGSM example.
 */
export function AdvTrainingPanel({ view }: { readonly view: AdvTrainingView }) {
  const wi = weightImages(view.lrWeights);
  return (
    <div class="adv-training" data-testid="adv-training">
      <p class="small">
        The {view.attack} attack crafted on each model itself (white box), same parameters.
      </p>
      <PairTable pair={view.maxout} name="maxout" />
      {view.lr ? (
        <PairTable pair={view.lr} name="lr" />
      ) : (
        <p class="muted small" data-testid="adv-lr-note">
          {view.lrNote}
        </p>
      )}
      <div class="lr-weights" data-testid="lr-weights">
        <ImageView image={wi.w} size={72} alt="weights w of mnist-lr-3v7, grey is zero" caption={<span>w (|w| ≤ {wi.maxAbs.toPrecision(2)})</span>} testId="lr-w" />
        <ImageView image={wi.sign} size={72} alt="sign of the weights of mnist-lr-3v7" caption="sign(w)" testId="lr-sign" />
        <ImageView
          image={view.lrFgsm.image}
          size={72}
          alt="FGSM example on mnist-lr-3v7"
          caption={
            <span data-testid="lr-fgsm">
              FGSM ε {formatEps(view.lrFgsm.eps)}: {view.lrFgsm.clean} → {view.lrFgsm.adversarial} ({formatPercent(view.lrFgsm.confidence)})
            </span>
          }
        />
      </div>
      <p class="muted small">mnist-lr-3v7 (Goodfellow et al. fig. 2): class 7 where w &gt; 0 (white). FGSM on a linear model adds ε·sign(±w).</p>
    </div>
  );
}
