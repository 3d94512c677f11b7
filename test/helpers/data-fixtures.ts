/** Paths of the dataset fixtures (test/fixtures/data) and a scratch-copy helper for damaging them. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from './shared';

export const FIX = path.join(repoRoot, 'test', 'fixtures', 'data');
export const fix = (...p: string[]) => path.join(FIX, ...p);

/** Copy a fixture folder to a fresh temp dir; returns the copy's path. */
export function scratchCopy(rel: string, name?: string): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-data-'));
  const dst = path.join(base, name ?? path.basename(rel));
  fs.cpSync(fix(rel), dst, { recursive: true });
  return dst;
}

export function rmScratch(p: string): void {
  fs.rmSync(path.dirname(p), { recursive: true, force: true });
}
