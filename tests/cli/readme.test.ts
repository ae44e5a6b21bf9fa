import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ATTACKS } from '../../src/core/attacks';
import { regenerate } from '../../src/cli/readme';

describe('README.md', () => {
  const readme = readFileSync('README.md', 'utf8');
  it('its generated blocks (models from the cards, attacks from the registry) are current: run `npm run readme`', () => {
    expect(readme).toBe(regenerate(readme));
  });
  it('its attack table lists exactly the registered attacks', () => {
    const block = readme.slice(readme.indexOf('<!-- generated:attacks -->'), readme.indexOf('<!-- /generated:attacks -->'));
    const ids = [...block.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
    expect(ids).toEqual(ATTACKS.map((a) => a.id));
  });
  it('names the two commands: the main job and the tests', () => {
    expect(readme).toMatch(/npm run demo/);
    expect(readme).toMatch(/npm test/);
  });
});
