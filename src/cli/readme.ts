/**
 * Generated parts of README.md (model table from the cards, attack table from the registry).
 *   npm run readme        rewrite the blocks
 * A test fails when README.md differs from what this renders.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKS } from '../core/attacks';
import { CATALOG } from '../core/models/catalog';

const DIST: Record<string, string> = { l0: 'L0', l2: 'L2', linf: 'L∞' };
const GOAL: Record<string, string> = {
  'confidence-reduction': 'confidence reduction', misclassification: 'misclassification',
  'targeted-misclassification': 'targeted misclassification', 'source-target-misclassification': 'source/target misclassification',
};

export function renderAttackTable(): string {
  const rows = ATTACKS.map((a) => {
    const budget = a.kind === 'fixed-eps' ? `${a.norms.map((n) => (n === 'inf' ? 'L∞' : 'L2')).join(', ')} ≤ ε` : `min ${DIST[a.distance]}`;
    const goals = a.threat.goals.map((g) => GOAL[g] ?? g).join(', ');
    const defaults = a.params.map((p) => `${p.key}=${String(p.default)}`).join(' ');
    return `| \`${a.id}\` | ${a.name} | ${a.paper} | ${a.model} | ${a.kind} | ${budget} | ${goals} (${a.threat.capability}) | ${defaults} |`;
  });
  return ['| id | attack | paper | attacks | kind | distance | threat model (goal, capability) | defaults |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

interface CardSummary {
  readonly testAccuracy?: number;
  readonly testElbo?: number;
  readonly testN?: number;
  readonly params?: number;
  readonly fileBytes?: number;
  readonly epochs?: number;
  readonly trainingSeconds?: number;
}

function result(c: CardSummary): string {
  if (typeof c.testAccuracy === 'number') return `${(100 * c.testAccuracy).toFixed(2)}% (n=${c.testN})`;
  if (typeof c.testElbo === 'number') return `ELBO ${c.testElbo.toFixed(1)} nats (n=${c.testN})`;
  return '';
}

export function renderModelTable(modelsDir = 'models'): string {
  const rows = CATALOG.map((e) => {
    const p = join(modelsDir, e.id, 'card.json');
    if (!existsSync(p)) return `| \`${e.id}\` | ${e.title} | ${e.paper} | ${e.dataset} | (not trained) | | | |`;
    const c = JSON.parse(readFileSync(p, 'utf8')) as CardSummary;
    const mb = typeof c.fileBytes === 'number' ? `${(c.fileBytes / 1e6).toFixed(2)} MB` : '';
    const training = typeof c.trainingSeconds === 'number' ? `${c.epochs ?? '?'} epochs, ${(c.trainingSeconds / 60).toFixed(1)} min` : '';
    return `| \`${e.id}\` | ${e.title} | ${e.paper} | ${e.dataset} | ${result(c)} | ${(c.params ?? 0).toLocaleString('en-US')} | ${mb} | ${training} |`;
  });
  return ['| id | model | paper | data | test result | parameters | size | training (wasm, 1 core) |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

const BLOCKS: Record<string, () => string> = { attacks: renderAttackTable, models: () => renderModelTable() };

/** README text with every generated block replaced by its current rendering. */
export function regenerate(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(BLOCKS)) {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const i = out.indexOf(start);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README.md lacks the ${start} … ${end} block`);
    out = `${out.slice(0, i + start.length)}\n${render()}\n${out.slice(j)}`;
  }
  return out;
}

if (process.argv[1] && /readme\.ts$/.test(process.argv[1])) {
  const text = readFileSync('README.md', 'utf8');
  const next = regenerate(text);
  writeFileSync('README.md', next);
  console.log(next === text ? 'README.md is up to date' : 'README.md regenerated');
}
