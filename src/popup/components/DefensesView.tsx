import type { ComponentChildren } from 'preact';
import type { CalibratedRate, DefenseReportView, DefenseSide } from '../../protocol/types';
import { formatNumber, formatPercent } from '../format';

/** "7 ×5", "3 ×3 · 7 ×2": the classes that got votes, most first. */
export function voteSummary(votes: readonly number[], classNames: readonly string[]): string {
  return votes
    .map((v, c) => ({ v, c }))
    .filter((e) => e.v > 0)
    .sort((a, b) => b.v - a.v || a.c - b.c)
    .map((e) => `${classNames[e.c] ?? e.c} ×${e.v}`)
    .join(' · ');
}

/** "stated 1.0% · clean test 1.2% (n = 10000, consistent)". */
export function rateNote(r: CalibratedRate): string {
  return `stated false-positive rate ${formatPercent(r.fpr)} · measured on ${r.cleanTestN} clean test images ${formatPercent(r.cleanTestRate)} (${r.consistent ? 'consistent' : 'not borne out'})`;
}

/** A yes/no badge; `yesIsGood`: green for yes (a defense noticed the attack), else red for yes (an image is flagged). */
function yesNo(v: boolean, testId: string, yesIsGood = false) {
  const good = v === yesIsGood;
  return (
    <span class={`badge ${good ? 'held' : 'fooled'}`} data-testid={testId} data-value={v ? 'true' : 'false'}>
      {v ? 'yes' : 'no'}
    </span>
  );
}

/**
 * What each defense says about the attack: MagNet and the GPDNN notice it when they flag the adversarial
 * and not the clean image; the ensemble when its members agree less on the adversarial. `ensembleFooled`:
 * the ensemble's majority changed (the attack transferred to it).
 */
export function noticed(r: DefenseReportView): { magnet: boolean; gp: boolean; ensemble: boolean; ensembleFooled: boolean } {
  return {
    magnet: r.adversarial.magnet.flagged && !r.clean.magnet.flagged,
    gp: r.adversarial.gp.unsure && !r.clean.gp.unsure,
    ensemble: r.adversarial.ensemble.agreement < r.clean.ensemble.agreement,
    ensembleFooled: r.adversarial.ensemble.majority !== r.clean.ensemble.majority,
  };
}

/** The defenses panel: MagNet, the GPDNN and the ensemble, clean and adversarial side by side. */
export function DefensesView({ report }: { readonly report: DefenseReportView }) {
  const names = report.classNames;
  const cls = (l: number): string => names[l] ?? String(l);
  const n = noticed(report);
  const rows: { key: string; label: string; title?: string; cell: (s: DefenseSide, side: 'clean' | 'adv') => ComponentChildren }[] = [
    { key: 'magnet-score', label: `MagNet score (threshold ${formatNumber(report.magnet.threshold)})`, title: `mean ${report.magnet.metric.toUpperCase()} reconstruction error of ${report.magnet.vae}`, cell: (s) => formatNumber(s.magnet.score) },
    { key: 'magnet-flagged', label: 'flagged as adversarial', cell: (s, side) => yesNo(s.magnet.flagged, `magnet-flagged-${side}`) },
    { key: 'magnet-reformed', label: `reformed prediction (${report.modelId})`, cell: (s) => `${s.magnet.reformed.className} ${formatPercent(s.magnet.reformed.probs[s.magnet.reformed.label] ?? Number.NaN)}` },
    { key: 'gp-label', label: `${report.gp.model} prediction`, cell: (s) => `${cls(s.gp.label)} ${formatPercent(s.gp.probs[s.gp.label] ?? Number.NaN)}` },
    { key: 'gp-entropy', label: `entropy, nats (threshold ${formatNumber(report.gp.threshold)})`, cell: (s) => formatNumber(s.gp.entropy) },
    { key: 'gp-unsure', label: 'unsure', cell: (s, side) => yesNo(s.gp.unsure, `gp-unsure-${side}`) },
    { key: 'ens-votes', label: `${report.ensemble.model} votes`, cell: (s) => voteSummary(s.ensemble.votes, names) },
    { key: 'ens-agreement', label: 'agreement', cell: (s) => formatPercent(s.ensemble.agreement) },
  ];
  return (
    <div class="defenses" data-testid="defenses">
      <p class="verdict small" data-testid="defense-verdict">
        Noticed the attack: MagNet {yesNo(n.magnet, 'noticed-magnet', true)} GPDNN {yesNo(n.gp, 'noticed-gp', true)} ensemble (less agreement) {yesNo(n.ensemble, 'noticed-ensemble', true)} · ensemble fooled {yesNo(n.ensembleFooled, 'ensemble-fooled')}
      </p>
      <table class="lab-table">
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">measure</span>
            </th>
            <th scope="col">clean</th>
            <th scope="col">adversarial ({report.attack})</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-testid={`def-${r.key}`}>
              <th scope="row" title={r.title}>
                {r.label}
              </th>
              <td data-testid={`def-${r.key}-clean`}>{r.cell(report.clean, 'clean')}</td>
              <td data-testid={`def-${r.key}-adv`}>{r.cell(report.adversarial, 'adv')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small" data-testid="magnet-rate">
        MagNet: {rateNote(report.magnet)}
      </p>
      <p class="muted small" data-testid="gp-rate">
        GPDNN unsure: {rateNote(report.gp)}
      </p>
      <details class="gp-classes">
        <summary>GPDNN predictive mean and variance per class</summary>
        <table class="lab-table compact" data-testid="gp-table">
          <thead>
            <tr>
              <th scope="col">class</th>
              <th scope="col">mean (clean)</th>
              <th scope="col">Var[f] (clean)</th>
              <th scope="col">mean (adv.)</th>
              <th scope="col">Var[f] (adv.)</th>
            </tr>
          </thead>
          <tbody>
            {names.map((name, c) => (
              <tr key={c} data-testid={`gp-row-${c}`}>
                <th scope="row">{name}</th>
                <td>{formatPercent(report.clean.gp.probs[c] ?? Number.NaN)}</td>
                <td>{formatNumber(report.clean.gp.variance[c])}</td>
                <td>{formatPercent(report.adversarial.gp.probs[c] ?? Number.NaN)}</td>
                <td>{formatNumber(report.adversarial.gp.variance[c])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
