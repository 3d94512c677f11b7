/** Append-only JSONL metrics log (`<out>/metrics.jsonl`): one object per event, flushed per line. */
import * as fs from 'fs';

export class MetricsLog {
  private fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  write(event: string, data: Record<string, unknown>): void {
    fs.writeSync(this.fd, JSON.stringify({ event, time: new Date().toISOString(), ...data }) + '\n');
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
