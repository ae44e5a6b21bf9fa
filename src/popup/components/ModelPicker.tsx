import type { ModelInfo } from '../../protocol/types';
import { formatPercent } from '../format';

export interface ModelPickerProps {
  readonly models: readonly ModelInfo[];
  readonly value: string;
  readonly disabled: boolean;
  readonly onChange: (modelId: string) => void;
}

const GROUPS: readonly { label: string; datasets: readonly string[] }[] = [
  { label: 'MNIST', datasets: ['mnist', 'mnist-3v7'] },
  { label: 'Fashion-MNIST', datasets: ['fashion-mnist'] },
];

/** The model the probe runs with, grouped by the data it was trained on. */
export function ModelPicker({ models, value, disabled, onChange }: ModelPickerProps) {
  if (models.length === 0) return null;
  return (
    <label class="model-picker">
      <span class="muted small">model</span>
      <select data-testid="model" value={value} disabled={disabled} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {GROUPS.map((g) => {
          const inGroup = models.filter((m) => g.datasets.includes(m.dataset));
          if (inGroup.length === 0) return null;
          return (
            <optgroup key={g.label} label={g.label}>
              {inGroup.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.title}
                  {m.testAccuracy !== null ? ` — ${formatPercent(m.testAccuracy)}` : ''}
                </option>
              ))}
            </optgroup>
          );
        })}
      </select>
    </label>
  );
}
