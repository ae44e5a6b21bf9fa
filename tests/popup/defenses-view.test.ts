import { describe, expect, it } from 'vitest';
import { noticed, rateNote, voteSummary } from '../../src/popup/components/DefensesView';
import { mockDefenses } from '../../src/popup/mock-lab';
import { mockAttack } from '../../src/popup/mock-attacks';
import { mockInput } from '../../src/popup/mock-model';

describe('defenses panel helpers', () => {
  it('voteSummary lists the classes with votes, most first, ties by class', () => {
    expect(voteSummary([0, 2, 0, 3, 0, 0, 0, 0, 0, 0], ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])).toBe('3 ×3 · 1 ×2');
    expect(voteSummary([1, 1], ['a', 'b'])).toBe('a ×1 · b ×1');
    expect(voteSummary([0, 0], ['a', 'b'])).toBe('');
  });

  it('rateNote puts the measured clean-test rate beside the stated one, and says whether it holds', () => {
    const note = rateNote({ threshold: 0.1, fpr: 0.01, cleanTestRate: 0.0167, cleanTestN: 10000, consistent: false });
    expect(note).toContain('1.0%');
    expect(note).toContain('1.7%');
    expect(note).toContain('10000');
    expect(note).toContain('not borne out');
    expect(rateNote({ threshold: 0.1, fpr: 0.01, cleanTestRate: 0.0116, cleanTestN: 500, consistent: true })).toContain('(consistent)');
  });

  it('noticed: a defense notices the attack only when it flags the adversarial and not the clean image', () => {
    const input = mockInput(7);
    const r = mockDefenses('1', 'm', 'fgsm', input, mockAttack(input, { attack: 'fgsm', params: { eps: 0.3 }, target: null }).adversarial);
    const flag = (clean: boolean, adv: boolean) => ({
      ...r,
      clean: { ...r.clean, magnet: { ...r.clean.magnet, flagged: clean } },
      adversarial: { ...r.adversarial, magnet: { ...r.adversarial.magnet, flagged: adv } },
    });
    expect(noticed(flag(false, true)).magnet).toBe(true);
    expect(noticed(flag(true, true)).magnet).toBe(false);
    expect(noticed(flag(false, false)).magnet).toBe(false);
    const split = { ...r, adversarial: { ...r.adversarial, ensemble: { ...r.adversarial.ensemble, agreement: r.clean.ensemble.agreement - 0.2 } } };
    expect(noticed(split).ensemble).toBe(true);
    expect(noticed(r).ensembleFooled).toBe(r.adversarial.ensemble.majority !== r.clean.ensemble.majority);
  });
});
