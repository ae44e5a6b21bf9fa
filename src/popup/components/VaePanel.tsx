import type { GrayImage, Prediction, VaeOutcome } from '../../protocol/types';
import { formatPercent } from '../format';
import { ImageView } from './ImageView';

export interface VaePanelProps {
  /** The clean input x. */
  readonly input: GrayImage;
  /** The adversarial input x*. */
  readonly adversarial: GrayImage;
  readonly vae: VaeOutcome;
  /** The class the attack aims at (null when unknown). */
  readonly target: number | null;
  readonly classNames: readonly string[];
}

const SIZE = 84;

function labelOf(p: Prediction): string {
  return `${p.className} ${formatPercent(p.probs[p.label] ?? Number.NaN)}`;
}

/**
 * Kos et al.'s view of an attack on a VAE: the clean input and its reconstruction, the
 * adversarial input and its reconstruction with ŷ (the latent classifier's label, which decides
 * success), and the target-class example the attack aims at.
 */
export function VaePanel({ input, adversarial, vae, target, classNames }: VaePanelProps) {
  const targetName = target !== null ? (classNames[target] ?? String(target)) : null;
  const reached = target !== null && vae.advReconstructionPrediction.label === target;
  return (
    <section class="vae-panel" data-testid="vae-panel" aria-labelledby="vae-title">
      <h3 id="vae-title">What the VAE makes of it</h3>
      <div class="vae-grid">
        <ImageView image={input} caption="x" alt="original input" testId="img-vae-original" size={SIZE} />
        <span class="vae-arrow" aria-hidden="true">
          →
        </span>
        <ImageView
          image={vae.reconstruction}
          caption={<span data-testid="vae-recon-label">recon: {labelOf(vae.reconstructionPrediction)}</span>}
          alt={`reconstruction of the original, classified as ${vae.reconstructionPrediction.className}`}
          testId="img-vae-recon"
          size={SIZE}
        />
        <ImageView
          image={vae.targetExample}
          caption={<span data-testid="vae-target-label">target: {targetName ?? '—'}</span>}
          alt={`target example${targetName !== null ? ` of class ${targetName}` : ''}`}
          testId="img-vae-target"
          size={SIZE}
        />
        <ImageView image={adversarial} caption="x*" alt="adversarial input" testId="img-vae-adv" size={SIZE} />
        <span class="vae-arrow" aria-hidden="true">
          →
        </span>
        <ImageView
          image={vae.advReconstruction}
          caption={
            <span data-testid="vae-adv-recon-label" class={reached ? 'reached' : undefined}>
              ŷ = {labelOf(vae.advReconstructionPrediction)}
            </span>
          }
          alt={`reconstruction of the adversarial input, classified as ${vae.advReconstructionPrediction.className}`}
          testId="img-vae-adv-recon"
          size={SIZE}
        />
      </div>
      <p class="muted small">The attack succeeds when ŷ, the latent classifier's label of the reconstruction, is the target.</p>
    </section>
  );
}
