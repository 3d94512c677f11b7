/**
 * The embedded demo (README Quickstart): synthetic chest-radiograph-like data → a small CLIP trained
 * from scratch with sentence sampling + the relaxed loss → zero-shot evaluation on the test split →
 * a report. And the ablation: the paper's baseline (full report, plain CLIP loss) against the method,
 * on the same data and seed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { generateSynthetic } from '../data/synth';
import { loadInferenceModel } from '../eval/model';
import { runZeroShotEval, type ZeroShotEvalResult } from '../eval/pipeline';
import { formatTerminal, htmlReport, textTable, fmt } from '../eval/report';
import { train, type TrainOptions, type TrainSummary } from './trainer';
import { writeFileAtomic } from '../util/atomic';

export interface ArmResult {
  name: string;
  summary: TrainSummary;
  eval: ZeroShotEvalResult;
}

/** Train one configuration and evaluate it zero-shot on `split`. */
export async function trainAndEvaluate(name: string, opts: TrainOptions, split = 'test',
  log: (m: string) => void = () => undefined): Promise<ArmResult> {
  const run = train(opts);
  if (opts.progress === 'quiet') run.on('log', log); // otherwise the progress display prints the log
  const summary = await run.done;
  const model = await loadInferenceModel(summary.modelDir);
  try {
    const ev = await runZeroShotEval(model, { data: opts.data, split, bootstrap: { resamples: 1000, seed: opts.seed ?? 0 } });
    return { name, summary, eval: ev };
  } finally {
    model.dispose();
  }
}

/** The paper's table: per-label AUROC (and the macro means) of each arm side by side. */
export function ablationTable(arms: ArmResult[]): string {
  const tasks = Object.keys(arms[0].eval.report.predictions?.tasks ?? {});
  const header = ['Label', ...arms.map((a) => a.name)];
  const rows = tasks.map((t) => [t, ...arms.map((a) => fmt(a.eval.report.predictions?.tasks[t]?.auroc))]);
  rows.push(['macro AUROC', ...arms.map((a) => fmt(a.eval.report.predictions?.mean.auroc))]);
  rows.push(['macro F1', ...arms.map((a) => fmt(a.eval.report.predictions?.mean.f1))]);
  rows.push(['macro MCC', ...arms.map((a) => fmt(a.eval.report.predictions?.mean.mcc))]);
  rows.push(['train s', ...arms.map((a) => a.summary.seconds.toFixed(0))]);
  return textTable(header, rows);
}

export interface DemoOptions {
  out: string;
  /** Synthetic studies (default 1200). */
  n?: number;
  seed?: number;
  epochs?: number;
  batchSize?: number;
  /** Also train the baseline (full report, plain loss) and print both. */
  ablation?: boolean;
  progress?: TrainOptions['progress'];
  log?: (m: string) => void;
}

export interface DemoResult {
  data: string;
  method: ArmResult;
  baseline?: ArmResult;
  reportHtml: string;
  reportJson: string;
  table: string;
}

/** Settings of the demo's method arm: the paper's recipe on a tiny model. */
export function demoTrainOptions(data: string, out: string, o: DemoOptions): TrainOptions {
  return {
    data,
    model: 'scratch:tiny',
    out,
    epochs: o.epochs ?? 8,
    batchSize: o.batchSize ?? 64,
    lr: 1e-3,
    warmup: 20,
    seed: o.seed ?? 0,
    sentences: 1,
    vocabSize: 1024,
    contextLength: 32,
    progress: o.progress ?? 'auto',
  };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const out = path.resolve(o.out);
  const dataDir = path.join(out, 'data');
  const manifest = path.join(dataDir, 'manifest.jsonl');
  if (!fs.existsSync(manifest)) {
    log(`demo: generating ${o.n ?? 1200} SYNTHETIC studies in ${dataDir}`);
    await generateSynthetic({ out: dataDir, n: o.n ?? 1200, seed: o.seed ?? 0, size: 64, force: true });
  } else log(`demo: reusing the synthetic data in ${dataDir}`);

  const method = await trainAndEvaluate('method (1 sentence, relaxed loss)',
    { ...demoTrainOptions(manifest, path.join(out, 'model'), o) }, 'test', log);
  let baseline: ArmResult | undefined;
  if (o.ablation) {
    baseline = await trainAndEvaluate('baseline (full report, plain CLIP)',
      { ...demoTrainOptions(manifest, path.join(out, 'baseline'), o), fullReport: true, positiveClip: 1 }, 'test', log);
  }
  const meta = {
    data: `${manifest} (SYNTHETIC)`,
    model: method.summary.modelDir,
    split: 'test',
    ...method.eval.meta,
  };
  const table = formatTerminal({ title: 'Zero-shot classification on the synthetic test split', meta, report: method.eval.report });
  const reportHtml = path.join(out, 'report.html');
  const reportJson = path.join(out, 'report.json');
  writeFileAtomic(reportHtml, await htmlReport({ title: 'xray-torch demo: zero-shot classification (synthetic data)', meta, report: method.eval.report, data: method.eval.data }));
  writeFileAtomic(reportJson, JSON.stringify({
    method: method.eval.report, train: method.summary,
    ...(baseline ? { baseline: baseline.eval.report, baselineTrain: baseline.summary } : {}),
  }, null, 2) + '\n');
  return { data: manifest, method, baseline, reportHtml, reportJson, table: table + (baseline ? '\n\nAblation (same data and seed):\n' + ablationTable([baseline, method]) : '') };
}
