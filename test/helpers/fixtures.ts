// One fixture cache per checkout (.cache/fixtures, git-ignored), regenerated only when
// the generator's source changes.
import { fileURLToPath } from 'node:url';
import { generateFixtures, type FixtureSet } from '../../fixtures/generate.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = fileURLToPath(new URL('../../.cache/fixtures', import.meta.url));

let pending: Promise<FixtureSet> | undefined;

export function getFixtures(): Promise<FixtureSet> {
  pending ??= generateFixtures(CACHE);
  return pending;
}
