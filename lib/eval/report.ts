/**
 * Output of a score or eval run: a terminal table, JSON (the `ScoreReport` shape: `tasks` / `mean`), CSV (one row
 * per source and label, with CI bounds), and a self-contained HTML report: the CI table, ROC curves as inline SVG
 * (readers' operating points as markers), and the same figure as a PNG rendered by sharp, embedded as a data URI.
 */
import sharp from 'sharp';
import * as path from 'path';
import { rocCurve, type Interval, type LabelResult, type MeanResult } from './metrics';
import type { ScoreData, ScoreReport } from './score';

export interface ReportInput {
  title: string;
  /** Shown above the tables (model, data, split, mode, threshold policy, speed …). */
  meta?: Record<string, string | number>;
  report: ScoreReport;
  /** The aligned data, for ROC curves (HTML only). */
  data?: ScoreData;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits);
}

export function fmtCi(ci: Interval | null | undefined, digits = 3): string {
  return ci ? `[${ci[0].toFixed(digits)}, ${ci[1].toFixed(digits)}]` : '';
}

/** Left-aligned first column, right-aligned others, two spaces apart. */
export function textTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const w = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((x, c) => (c === 0 ? (x ?? '').padEnd(w[c]) : (x ?? '').padStart(w[c]))).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function shortName(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '');
}

function metricWithCi(r: Partial<LabelResult> | MeanResult, m: string, ci: boolean): string {
  const rec = r as Record<string, unknown>;
  const v = fmt(rec[m] as number | null);
  const c = ci ? fmtCi(rec[`${m}_ci`] as Interval | null) : '';
  return c ? `${v} ${c}` : v;
}

// ---------------------------------------------------------------------------------------------
// Terminal
// ---------------------------------------------------------------------------------------------

export function formatTerminal(input: ReportInput): string {
  const { report } = input;
  const out: string[] = [input.title];
  for (const [k, v] of Object.entries(input.meta ?? {})) out.push(`  ${k}: ${v}`);
  out.push('');
  const p = report.predictions;
  if (p) {
    const hasCi = Object.values(p.tasks).some((t) => t.auroc_ci !== undefined);
    const header = ['Label', 'n', 'pos', 'AUROC', ...(hasCi ? ['95% CI'] : []), 'AUPRC', 'F1', 'MCC', 'Sens', 'Spec', 'Thr'];
    const row = (name: string, t: Partial<LabelResult> | MeanResult, isMean = false): string[] => {
      const r = t as Partial<LabelResult>;
      return [name, isMean ? '' : String(r.n ?? ''), isMean ? '' : String(r.positives ?? ''), fmt(r.auroc),
        ...(hasCi ? [fmtCi(r.auroc_ci)] : []), fmt(r.auprc), fmt(r.f1), fmt(r.mcc), fmt(r.sensitivity),
        fmt(r.specificity), isMean ? '' : fmt(r.threshold, 3)];
    };
    const rows = Object.entries(p.tasks).map(([k, t]) => row(k, t));
    rows.push(row(`Mean (${p.mean.labels})`, p.mean, true));
    out.push(`Model predictions (threshold: ${p.threshold})`, textTable(header, rows), '');
  }
  const d = report.decisions;
  if (d && d.length) {
    const names = d.map((x) => shortName(x.file));
    const header = ['Label', ...names.flatMap((n) => [`${n} F1`, `${n} MCC`]), 'Readers F1', 'Readers MCC',
      ...(p ? ['Model F1', 'Model MCC'] : [])];
    const rows = report.tasks.map((task) => {
      const f = d.map((x) => x.tasks[task]?.f1 ?? null);
      const m = d.map((x) => x.tasks[task]?.mcc ?? null);
      const mean = (a: (number | null)[]) => (a.some((v) => v === null) ? null : a.reduce((s: number, v) => s + (v as number), 0) / a.length);
      return [task, ...d.flatMap((_, i) => [fmt(f[i]), fmt(m[i])]), fmt(mean(f)), fmt(mean(m)),
        ...(p ? [fmt(p.tasks[task]?.f1), fmt(p.tasks[task]?.mcc)] : [])];
    });
    rows.push(['Mean', ...d.flatMap((x) => [fmt(x.mean.f1), fmt(x.mean.mcc)]), fmt(report.mean?.f1), fmt(report.mean?.mcc),
      ...(p ? [fmt(p.mean.f1), fmt(p.mean.mcc)] : [])]);
    out.push('Readers (binary decisions)' + (p ? ' beside the model' : ''), textTable(header, rows));
    if (report.mean?.mcc_ci) out.push(`Readers' mean MCC ${fmt(report.mean.mcc)} ${fmtCi(report.mean.mcc_ci)}, F1 ${fmt(report.mean.f1)} ${fmtCi(report.mean.f1_ci)}`);
    out.push('');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

const CSV_METRICS = ['auroc', 'auprc', 'f1', 'mcc', 'sensitivity', 'specificity', 'precision'];

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isNaN(v) ? '' : String(v)) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per (source, label) plus mean rows: source,label,n,positives,threshold,<metric>,<metric>_lo,<metric>_hi… */
export function reportCsv(report: ScoreReport): string {
  const header = ['source', 'label', 'n', 'positives', 'threshold', ...CSV_METRICS.flatMap((m) => [m, `${m}_lo`, `${m}_hi`])];
  const lines = [header.join(',')];
  const push = (source: string, label: string, r: Record<string, unknown>) => {
    const vals: unknown[] = [source, label, r.n, r.positives, r.threshold];
    for (const m of CSV_METRICS) {
      const ci = r[`${m}_ci`] as Interval | null | undefined;
      vals.push(r[m], ci?.[0], ci?.[1]);
    }
    lines.push(vals.map(csvField).join(','));
  };
  if (report.predictions) {
    for (const [k, t] of Object.entries(report.predictions.tasks)) push('predictions', k, t as unknown as Record<string, unknown>);
    push('predictions', 'mean', report.predictions.mean as unknown as Record<string, unknown>);
  }
  for (const d of report.decisions ?? []) {
    for (const [k, t] of Object.entries(d.tasks)) push(d.file, k, t as unknown as Record<string, unknown>);
    push(d.file, 'mean', d.mean as unknown as Record<string, unknown>);
  }
  if (report.decisions && report.mean) push('readers', 'mean', report.mean as unknown as Record<string, unknown>);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// ROC figure (SVG) and PNG
// ---------------------------------------------------------------------------------------------

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const READER_COLORS = ['#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export interface RocPanel {
  label: string;
  curve?: { fpr: number[]; tpr: number[] } | null;
  auroc?: number | null;
  /** Readers' operating points: (1 − specificity, sensitivity). */
  points?: { name: string; fpr: number; tpr: number }[];
}

/** ROC panels from aligned data: the model's curve per label, and each reader's operating point. */
export function rocPanels(data: ScoreData, report: ScoreReport): RocPanel[] {
  return data.gt.tasks.map((label) => {
    const y = data.gt.y[label];
    const panel: RocPanel = { label };
    if (data.predictions) {
      panel.curve = rocCurve(y, data.predictions.scores[label]);
      panel.auroc = report.predictions?.tasks[label]?.auroc ?? null;
    }
    panel.points = (report.decisions ?? []).flatMap((d) => {
      const t = d.tasks[label];
      return t && t.sensitivity !== null && t.specificity !== null
        ? [{ name: shortName(d.file), fpr: 1 - t.specificity, tpr: t.sensitivity }] : [];
    });
    return panel;
  });
}

/** A grid of ROC panels as one standalone SVG document (fixed pixel size, fonts named for librsvg). */
export function rocSvg(panels: RocPanel[], opts: { columns?: number; panel?: number } = {}): string {
  const P = opts.panel ?? 260;
  const cols = Math.max(1, Math.min(opts.columns ?? 3, panels.length || 1));
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const W = cols * P;
  const legend = 26;
  const H = rows * P + legend;
  const m = { l: 42, r: 12, t: 28, b: 36 };
  const pw = P - m.l - m.r;
  const ph = P - m.t - m.b;
  const readers = [...new Set(panels.flatMap((p) => (p.points ?? []).map((x) => x.name)))];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  panels.forEach((p, i) => {
    const ox = (i % cols) * P + m.l;
    const oy = Math.floor(i / cols) * P + m.t;
    const X = (v: number) => (ox + v * pw).toFixed(2);
    const Y = (v: number) => (oy + (1 - v) * ph).toFixed(2);
    parts.push(`<g class="roc" data-label="${escapeXml(p.label)}">`);
    parts.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#333" stroke-width="1"/>`);
    for (const t of [0.25, 0.5, 0.75]) {
      parts.push(`<line x1="${X(t)}" y1="${Y(0)}" x2="${X(t)}" y2="${Y(1)}" stroke="#e2e2e2"/>`);
      parts.push(`<line x1="${X(0)}" y1="${Y(t)}" x2="${X(1)}" y2="${Y(t)}" stroke="#e2e2e2"/>`);
    }
    for (const t of [0, 0.5, 1]) {
      parts.push(`<text x="${X(t)}" y="${oy + ph + 14}" font-size="10" text-anchor="middle" fill="#333">${t}</text>`);
      parts.push(`<text x="${ox - 5}" y="${(oy + (1 - t) * ph + 3.5).toFixed(2)}" font-size="10" text-anchor="end" fill="#333">${t}</text>`);
    }
    parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
    if (p.curve) {
      const pts = p.curve.fpr.map((f, k) => `${X(f)},${Y(p.curve!.tpr[k])}`).join(' ');
      parts.push(`<polyline class="curve" points="${pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
    }
    (p.points ?? []).forEach((pt) => {
      const c = READER_COLORS[readers.indexOf(pt.name) % READER_COLORS.length];
      parts.push(`<circle class="reader" cx="${X(pt.fpr)}" cy="${Y(pt.tpr)}" r="4" fill="${c}" stroke="#fff" stroke-width="1"><title>${escapeXml(pt.name)}</title></circle>`);
    });
    const title = p.auroc !== undefined ? `${p.label} (AUROC ${fmt(p.auroc)})` : p.label;
    parts.push(`<text x="${ox + pw / 2}" y="${oy - 9}" font-size="12" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(title)}</text>`);
    parts.push(`<text x="${ox + pw / 2}" y="${oy + ph + 28}" font-size="10" text-anchor="middle" fill="#555">1 − specificity</text>`);
    parts.push(`<text x="${ox - 30}" y="${oy + ph / 2}" font-size="10" text-anchor="middle" fill="#555" transform="rotate(-90 ${ox - 30} ${oy + ph / 2})">sensitivity</text>`);
    parts.push('</g>');
  });
  // legend
  let lx = 12;
  const ly = rows * P + 16;
  if (panels.some((p) => p.curve)) {
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="#1f77b4" stroke-width="2"/>`,
      `<text x="${lx + 28}" y="${ly}" font-size="11" fill="#111">model</text>`);
    lx += 90;
  }
  readers.forEach((r, k) => {
    parts.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="4" fill="${READER_COLORS[k % READER_COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="${ly}" font-size="11" fill="#111">${escapeXml(r)}</text>`);
    lx += 20 + 7 * r.length + 16;
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Render an SVG document to PNG with sharp (librsvg); `scale` 2 gives a sharper image at twice the size. */
export async function svgToPng(svg: string, scale = 1): Promise<Buffer> {
  // librsvg maps SVG pixels at 72 dpi: density 72 renders the document at its own pixel size.
  const density = 72 * scale;
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

function htmlEscape(s: string): string {
  return escapeXml(s);
}

function htmlTable(header: string[], rows: string[][], cls = ''): string {
  const th = header.map((h) => `<th>${htmlEscape(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${htmlEscape(c)}</th>` : `<td>${htmlEscape(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table class="${cls}"><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

/** The self-contained HTML report (no external resources). */
export async function htmlReport(input: ReportInput): Promise<string> {
  const { report } = input;
  const sections: string[] = [];
  const meta = Object.entries(input.meta ?? {}).map(([k, v]) => `<tr><th scope="row">${htmlEscape(k)}</th><td>${htmlEscape(String(v))}</td></tr>`).join('\n');
  if (meta) sections.push(`<table class="meta">${meta}</table>`);
  const p = report.predictions;
  if (p) {
    const cell = (t: Partial<LabelResult> | MeanResult, m: string) => metricWithCi(t, m, true);
    const rows = Object.entries(p.tasks).map(([k, t]) => [k, String(t.n), String(t.positives), cell(t, 'auroc'), cell(t, 'auprc'),
      cell(t, 'f1'), cell(t, 'mcc'), cell(t, 'sensitivity'), cell(t, 'specificity'), fmt(t.threshold)]);
    rows.push([`Mean (${p.mean.labels} labels)`, '', '', cell(p.mean, 'auroc'), cell(p.mean, 'auprc'), cell(p.mean, 'f1'),
      cell(p.mean, 'mcc'), cell(p.mean, 'sensitivity'), cell(p.mean, 'specificity'), '']);
    sections.push(`<h2>Model: metrics with 95% confidence intervals</h2><p>Threshold: ${htmlEscape(p.threshold)}. ` +
      'n/a: the label has a single class in this data.</p>' +
      htmlTable(['Label', 'n', 'Positives', 'AUROC', 'AUPRC', 'F1', 'MCC', 'Sensitivity', 'Specificity', 'Threshold'], rows, 'ci'));
  }
  const d = report.decisions;
  if (d && d.length) {
    const rows: string[][] = [];
    for (const x of d) {
      for (const [k, t] of Object.entries(x.tasks)) {
        rows.push([`${shortName(x.file)}: ${k}`, metricWithCi(t, 'f1', true), metricWithCi(t, 'mcc', true),
          metricWithCi(t, 'sensitivity', true), metricWithCi(t, 'specificity', true)]);
      }
      rows.push([`${shortName(x.file)}: mean`, metricWithCi(x.mean, 'f1', true), metricWithCi(x.mean, 'mcc', true),
        metricWithCi(x.mean, 'sensitivity', true), metricWithCi(x.mean, 'specificity', true)]);
    }
    if (report.mean) {
      rows.push(['Readers: mean', metricWithCi(report.mean, 'f1', true), metricWithCi(report.mean, 'mcc', true),
        metricWithCi(report.mean, 'sensitivity', true), metricWithCi(report.mean, 'specificity', true)]);
    }
    sections.push('<h2>Readers (binary decisions)</h2>' + htmlTable(['Reader: label', 'F1', 'MCC', 'Sensitivity', 'Specificity'], rows, 'ci'));
  }
  if (input.data) {
    const svg = rocSvg(rocPanels(input.data, report));
    const png = await svgToPng(svg);
    sections.push('<h2>ROC curves</h2><figure class="roc-svg">' + svg.replace(/^<svg /, '<svg role="img" aria-label="ROC curves" ') +
      '<figcaption>Model ROC curve per label (dashed: chance); dots: readers\' operating points.</figcaption></figure>');
    const uri = `data:image/png;base64,${png.toString('base64')}`;
    sections.push(`<details><summary>The same figure as PNG</summary><p><a download="roc.png" href="${uri}">Download roc.png</a></p>` +
      `<img class="roc-png" alt="ROC curves (PNG)" src="${uri}"></details>`);
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlEscape(input.title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#111;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;font-variant-numeric:tabular-nums}
th[scope=row],table.meta td{text-align:left}
thead th{background:#f0f0f0}
figure{margin:0}
img.roc-png{max-width:100%;border:1px solid #ddd}
</style></head>
<body>
<h1>${htmlEscape(input.title)}</h1>
${sections.join('\n')}
<p><small>Generated by xray-torch on ${new Date().toISOString()}.</small></p>
</body></html>
`;
}
