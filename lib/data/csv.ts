/**
 * A streaming RFC 4180 CSV parser: quoted fields, doubled quotes, embedded commas and newlines,
 * CRLF or LF, a UTF-8 BOM, and gzipped files. Rows whose field count differs from the header's
 * are reported (file and line) and skipped, never silently shifted into the wrong columns.
 */
import { openTextStream } from './text-files';
import { xtError } from '../errors';

export interface CsvRowEvent {
  /** 1-based line where the row starts. */
  line: number;
  fields: string[];
}

/**
 * Incremental parser: feed chunks with `push`, then `end`. Rows come out through `onRow`.
 * An unterminated quoted field at the end is reported through `onError`.
 */
export class CsvParser {
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  /** After a closing quote, waiting for a separator. */
  private afterQuote = false;
  private line = 1;
  private rowLine = 1;
  private started = false;
  private pendingCR = false;
  private junkAfterQuote = false;

  constructor(
    private readonly onRow: (r: CsvRowEvent) => void,
    private readonly onError: (line: number, reason: string) => void = () => {},
    private readonly sep = ',',
  ) {}

  push(chunk: string): void {
    let s = chunk;
    if (!this.started) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      if (s.length) this.started = true;
    }
    const sep = this.sep;
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (this.pendingCR) {
        this.pendingCR = false;
        if (s[i] === '\n') {
          i++;
          continue;
        }
      }
      if (this.inQuotes) {
        const q = s.indexOf('"', i);
        if (q < 0) {
          const part = s.slice(i);
          this.countNewlines(part);
          this.field += part;
          i = n;
          break;
        }
        const part = s.slice(i, q);
        this.countNewlines(part);
        this.field += part;
        // a doubled quote needs the next char; if the chunk ends here, keep state
        if (q + 1 >= n) {
          this.inQuotes = false;
          this.afterQuote = true;
          i = q + 1;
          break;
        }
        if (s[q + 1] === '"') {
          this.field += '"';
          i = q + 2;
        } else {
          this.inQuotes = false;
          this.afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      const c = s[i];
      if (this.afterQuote && c === '"') {
        // a doubled quote that straddled a chunk boundary
        this.field += '"';
        this.inQuotes = true;
        this.afterQuote = false;
        i++;
        continue;
      }
      if (c === sep) {
        this.endField();
        i++;
      } else if (c === '\n' || c === '\r') {
        this.endField();
        this.endRow();
        this.line++;
        this.rowLine = this.line;
        if (c === '\r') this.pendingCR = true;
        i++;
      } else if (c === '"' && this.field.length === 0 && !this.afterQuote) {
        this.inQuotes = true;
        i++;
      } else {
        // plain run up to the next special char
        let j = i;
        while (j < n) {
          const d = s[j];
          if (d === sep || d === '\n' || d === '\r' || d === '"') break;
          j++;
        }
        if (j === i) j = i + 1; // a stray quote inside an unquoted field is kept literally
        if (this.afterQuote) this.junkAfterQuote = true;
        this.field += s.slice(i, j);
        i = j;
      }
    }
  }

  end(): void {
    if (this.pendingCR) this.pendingCR = false;
    if (this.inQuotes) {
      this.onError(this.rowLine, 'unterminated quoted field at end of file');
      this.inQuotes = false;
      this.field = '';
      this.row = [];
      return;
    }
    if (this.field.length || this.row.length || this.afterQuote) {
      this.endField();
      this.endRow();
    }
  }

  private countNewlines(s: string): void {
    for (let k = s.indexOf('\n'); k >= 0; k = s.indexOf('\n', k + 1)) this.line++;
  }

  private endField(): void {
    this.row.push(this.field);
    this.field = '';
    this.afterQuote = false;
  }

  private endRow(): void {
    const row = this.row;
    this.row = [];
    const junk = this.junkAfterQuote;
    this.junkAfterQuote = false;
    if (row.length === 1 && row[0] === '') return; // blank line
    if (junk) {
      this.onError(this.rowLine, 'text after a closing quote');
      return;
    }
    this.onRow({ line: this.rowLine, fields: row });
  }
}

/** Parse a whole CSV string into rows of fields (no header handling). */
export function parseCsv(text: string, onError?: (line: number, reason: string) => void): string[][] {
  const rows: string[][] = [];
  const p = new CsvParser((r) => rows.push(r.fields), onError);
  p.push(text);
  p.end();
  return rows;
}

/** Rows of a (possibly gzipped) CSV file, streamed, with their line numbers. */
export async function* readCsvRows(
  file: string,
  onError?: (line: number, reason: string) => void,
): AsyncGenerator<CsvRowEvent> {
  const stream = openTextStream(file);
  let queue: CsvRowEvent[] = [];
  const parser = new CsvParser((r) => queue.push(r), onError);
  try {
    for await (const chunk of stream) {
      parser.push(chunk as string);
      if (queue.length) {
        const q = queue;
        queue = [];
        yield* q;
      }
    }
  } catch (e) {
    throw xtError('XT_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  parser.end();
  yield* queue;
}

export interface CsvRecord {
  line: number;
  /** Field values keyed by the header's column names. */
  row: Record<string, string>;
}

export interface CsvReadOptions {
  /** Columns that must be present in the header (XT_INVALID naming the missing ones otherwise). */
  required?: string[];
  /** Malformed rows (wrong field count, bad quoting), named by `file:line`. */
  onBad?: (where: string, reason: string) => void;
}

/**
 * Records of a CSV file with a header row, keyed by column NAME (never by position).
 * Rows with a different number of fields than the header are reported and skipped.
 */
export async function* readCsvRecords(file: string, opts: CsvReadOptions = {}): AsyncGenerator<CsvRecord> {
  let header: string[] | undefined;
  const bad = opts.onBad ?? (() => {});
  for await (const r of readCsvRows(file, (line, reason) => bad(`${file}:${line}`, `malformed CSV row: ${reason}`))) {
    if (!header) {
      header = r.fields.map((h) => h.trim());
      const missing = (opts.required ?? []).filter((c) => !header!.includes(c));
      if (missing.length)
        throw xtError(
          'XT_INVALID',
          `${file}: missing column(s) ${missing.map((m) => JSON.stringify(m)).join(', ')} (header: ${header.join(',')})`,
        );
      continue;
    }
    if (r.fields.length !== header.length) {
      bad(`${file}:${r.line}`, `malformed CSV row: ${r.fields.length} fields, header has ${header.length}`);
      continue;
    }
    const row: Record<string, string> = {};
    for (let k = 0; k < header.length; k++) row[header[k]] = r.fields[k];
    yield { line: r.line, row };
  }
  if (!header) throw xtError('XT_INVALID', `${file}: empty CSV (no header row)`);
}

/** Just the header of a CSV file (column names), or undefined when it is empty. */
export async function readCsvHeader(file: string): Promise<string[] | undefined> {
  for await (const r of readCsvRows(file)) return r.fields.map((h) => h.trim());
  return undefined;
}
