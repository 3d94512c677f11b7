/** Locating the read-only reference data in ../shared (tests only; the package never reads it). */
import * as fs from 'fs';
import * as path from 'path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** Absolute path of `../shared/<rel>` beside the repository root (or XRAY_TORCH_SHARED). */
export function sharedPath(...rel: string[]): string {
  const base = process.env.XRAY_TORCH_SHARED || path.resolve(repoRoot, '..', 'shared');
  return path.join(base, ...rel);
}

/** Skip the calling test (with a clear message) when a shared file is absent. */
export function requireShared(ctx: Mocha.Context, ...rel: string[]): string {
  const p = sharedPath(...rel);
  if (!fs.existsSync(p)) {
    // eslint-disable-next-line no-console
    console.warn(`    skipped: shared reference data not found at ${p}`);
    ctx.skip();
  }
  return p;
}
