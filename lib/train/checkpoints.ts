/**
 * Checkpoint folders under `<out>/checkpoints/`:
 *   step-00000120/ { model.safetensors, optimizer.pt, state.json, tokenizer files, config.json }
 * A checkpoint is written into a temp folder, every file fsynced, then renamed into place, and
 * `checkpoints/index.json` (latest, best, kept) is replaced atomically last. A kill at any instant
 * leaves the previous checkpoint loadable: readers follow index.json, which only ever names
 * complete folders.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { fsyncDir, fsyncTree, writeFileAtomic } from '../util/atomic';

export interface CheckpointIndex {
  latest: string | null;
  best: { name: string; score: number; metric: string } | null;
  kept: string[];
}

export class CheckpointStore {
  readonly dir: string;

  constructor(outDir: string, readonly keepLast = 3) {
    this.dir = path.join(outDir, 'checkpoints');
  }

  static nameFor(step: number): string {
    return `step-${String(step).padStart(8, '0')}`;
  }

  readIndex(): CheckpointIndex {
    const f = path.join(this.dir, 'index.json');
    if (!fs.existsSync(f)) return { latest: null, best: null, kept: [] };
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8')) as CheckpointIndex;
    } catch (e) {
      throw xtError('XT_IO', `${f}: unreadable checkpoint index (${(e as Error).message})`);
    }
  }

  /** Folder of the latest complete checkpoint, or null. */
  latest(): string | null {
    const i = this.readIndex();
    return i.latest ? path.join(this.dir, i.latest) : null;
  }

  /**
   * Write a checkpoint: `write(tmpDir)` fills a temp folder; it is then made durable and published.
   * `score` (higher is better) makes it a candidate for `best`.
   */
  async save(step: number, write: (tmpDir: string) => Promise<void>, score?: { value: number; metric: string }): Promise<string> {
    fs.mkdirSync(this.dir, { recursive: true });
    const name = CheckpointStore.nameFor(step);
    const final = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.${name}.tmp-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp);
    await write(tmp);
    fsyncTree(tmp);
    const index = this.readIndex();
    if (fs.existsSync(final)) {
      // re-saving the same step (e.g. the final save right after a periodic one): replace it
      const old = path.join(this.dir, `.${name}.old-${process.pid}`);
      fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, final);
    }
    fsyncDir(this.dir);

    const kept = index.kept.filter((k) => k !== name).concat(name);
    let best = index.best;
    if (score && Number.isFinite(score.value) && (!best || score.value > best.score)) {
      best = { name, score: score.value, metric: score.metric };
    }
    const keep = new Set(kept.slice(-this.keepLast));
    if (best) keep.add(best.name);
    const next: CheckpointIndex = { latest: name, best, kept: kept.filter((k) => keep.has(k)) };
    writeFileAtomic(path.join(this.dir, 'index.json'), JSON.stringify(next, null, 2) + '\n');
    // only after the index no longer names them
    for (const k of kept) {
      if (!keep.has(k)) fs.rmSync(path.join(this.dir, k), { recursive: true, force: true });
    }
    this.removeStaleTemps();
    return final;
  }

  /** Temp folders left by a killed writer. */
  removeStaleTemps(): void {
    if (!fs.existsSync(this.dir)) return;
    for (const f of fs.readdirSync(this.dir)) {
      if (/^\.step-\d+\.(tmp|old)-\d+$/.test(f)) {
        const pid = Number(f.split('-').pop());
        if (pid !== process.pid) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
      }
    }
  }
}
