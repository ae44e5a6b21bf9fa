/**
 * Generated parts of README.md (model table from the cards, attack table from the registry).
 *   npm run readme        rewrite the blocks
 * A test fails when README.md differs from what this renders.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKS } from '../core/attacks';
import { CATALOG } from '../core/models/catalog';

export function renderAttackTable(): string {
  const rows = ATTACKS.map((a) => `| \`${a.id}\` | ${a.name} | ${a.paper} | ${a.kind} | ${a.norms.map((n) => (n === 'inf' ? 'L∞' : 'L2')).join(', ')} | ${a.targeted ? 'yes' : 'no'} |`);
  return ['| id | attack | paper | kind | norms | targeted |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

export function renderModelTable(modelsDir = 'models'): string {
  const rows = CATALOG.map((e) => {
    const p = join(modelsDir, e.id, 'card.json');
    if (!existsSync(p)) return `| \`${e.id}\` | ${e.title} | ${e.dataset} | (not trained) | | |`;
    const c = JSON.parse(readFileSync(p, 'utf8')) as { testAccuracy: number; testN: number; params: number; epochs: number; trainingSeconds: number };
    return `| \`${e.id}\` | ${e.title} | ${e.dataset} | ${(100 * c.testAccuracy).toFixed(2)}% (n=${c.testN}) | ${c.params.toLocaleString('en-US')} | ${c.epochs} epochs, ${Math.round(c.trainingSeconds / 60)} min |`;
  });
  return ['| id | model | data | test accuracy | parameters | training |', '|---|---|---|---|---|---|', ...rows].join('\n');
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
