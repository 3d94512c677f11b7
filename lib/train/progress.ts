/**
 * Training progress: a bar on a TTY (cli-progress: step, loss, lr, images/s, ETA), plain lines
 * otherwise, nothing with --quiet, JSON lines with --json.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface StepInfo {
  step: number;
  totalSteps: number;
  epoch: number;
  /** null on steps whose loss is read later (`syncEvery` > 1). */
  loss: number | null;
  lr: number;
  imagesPerSec: number;
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'json' | 'quiet';

export class Progress {
  private bar?: SingleBar;
  private lastLine = 0;
  private lastLoss = '-';
  private readonly mode: Exclude<ProgressMode, 'auto'>;

  constructor(mode: ProgressMode, private readonly out: NodeJS.WriteStream = process.stderr, private readonly every = 10) {
    this.mode = mode === 'auto' ? (out.isTTY ? 'bar' : 'lines') : mode;
  }

  start(totalSteps: number, startStep: number): void {
    if (this.mode !== 'bar') return;
    this.bar = new SingleBar(
      {
        format: 'train |{bar}| step {value}/{total} | loss {loss} | lr {lr} | {ips} img/s | ETA {eta_formatted}',
        stream: this.out,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    this.bar.start(totalSteps, startStep, { loss: '-', lr: '-', ips: '-' });
  }

  step(s: StepInfo): void {
    if (s.loss !== null) this.lastLoss = s.loss.toFixed(4);
    const payload = { loss: this.lastLoss, lr: s.lr.toExponential(2), ips: s.imagesPerSec.toFixed(1) };
    if (this.mode === 'bar') this.bar?.update(s.step, payload);
    else if (this.mode === 'json') this.out.write(JSON.stringify({ event: 'step', ...s }) + '\n');
    else if (this.mode === 'lines' && (s.step - this.lastLine >= this.every || s.step === s.totalSteps)) {
      this.lastLine = s.step;
      this.out.write(`step ${s.step}/${s.totalSteps} epoch ${s.epoch} loss ${payload.loss} lr ${payload.lr} ${payload.ips} img/s\n`);
    }
  }

  /** A message that must not be torn by the bar. */
  log(msg: string): void {
    if (this.mode === 'quiet') return;
    if (this.mode === 'json') {
      this.out.write(JSON.stringify({ event: 'log', message: msg }) + '\n');
      return;
    }
    if (this.bar) {
      this.out.write('\r\x1b[K' + msg + '\n');
    } else this.out.write(msg + '\n');
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
