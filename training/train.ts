/**
 * `npm run train -- <id> [options]`: trains one shipped model from scratch with a fixed seed and
 * writes models/<id>/ (tfjs format) with a generated card.json. Never run in CI.
 * Each model family has its own script; this file only maps ids to them.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TRAIN_SPECS, trainSupervised } from './supervised';
import { trainMaxout } from './maxout';
import { trainGpdnn, trainGpdnnNn } from './gpdnn';
import { trainVae } from './vae';

/** A family trainer: trains `argv[0]` (the id) with the remaining options. */
export type Trainer = (argv: string[]) => Promise<void>;

/** Every trainable id → its trainer. Families register their ids here. */
export const TRAINERS: Record<string, Trainer> = {
  ...Object.fromEntries(Object.keys(TRAIN_SPECS).map((id) => [id, trainSupervised])),
  'mnist-maxout': trainMaxout, 'mnist-maxout-adv': trainMaxout, 'mnist-ensemble-5': trainMaxout,
  'mnist-gpdnn-nn': trainGpdnnNn,
  'mnist-gpdnn': trainGpdnn,
  'mnist-vae': trainVae, 'mnist-vae-clf': trainVae,
};

async function main(argv: string[]): Promise<void> {
  const id = argv[0];
  const trainer = id === undefined ? undefined : TRAINERS[id];
  if (!trainer) throw new Error(`usage: npm run train -- <${Object.keys(TRAINERS).join('|')}> [options]`);
  await trainer(argv);
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
