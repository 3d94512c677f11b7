/** `xray-torch serve`: an HTTP inference server (healthz, classify, embed) around one loaded model. */
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { resolveLabels } from '../eval/labelsets';
import { loadInferenceModel } from '../eval/model';
import { loadPromptFile } from '../eval/prompts';
import { createServer } from '../serve/server';

interface Args {
  model: string;
  port: number;
  host: string;
  labels: string;
  scoring: 'paired' | 'cosine';
  templates: string;
  prompts?: string;
  temperature?: number;
  resize: 'crop' | 'pad';
  concurrency: number;
  queue: number;
  'max-body-mb': number;
  device?: string;
  tokenizer?: string;
  quiet?: boolean;
}

export const serveCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'Serve the model over HTTP: GET /healthz, POST /v1/classify, POST /v1/embed',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'model directory (loaded once)' })
      .option('port', { type: 'number', default: 8080, describe: 'TCP port (0: a free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind (0.0.0.0 for every interface)' })
      .option('labels', { type: 'string', default: 'chexpert5', describe: 'default labels when a request names none' })
      .option('scoring', { choices: ['paired', 'cosine'] as const, default: 'paired' as const, describe: 'paired softmax or plain cosine' })
      .option('templates', { type: 'string', default: 'chexzero', describe: 'prompt templates: chexzero or report' })
      .option('prompts', { type: 'string', describe: 'prompt file (JSON)' })
      .option('temperature', { type: 'number', describe: "paired-mode softmax scale (default: the model's logit scale)" })
      .option('resize', { choices: ['crop', 'pad'] as const, default: 'crop' as const, describe: 'image geometry' })
      .option('concurrency', { type: 'number', default: 1, describe: 'model calls at once' })
      .option('queue', { type: 'number', default: 64, describe: 'requests waiting beyond which 503 is returned' })
      .option('max-body-mb', { type: 'number', default: 16, describe: 'largest request body (MiB)' })
      .option('tokenizer', { type: 'string', describe: 'tokenizer file or folder when none sits beside the weights' })
      .option('quiet', { type: 'boolean', describe: 'no request log' }) as never,
  handler: async (a) => {
    const int = (v: number, name: string, min: number) => {
      if (!Number.isInteger(v) || v < min) throw xtError('XT_INVALID', `--${name} must be an integer ≥ ${min}, got ${v}`);
    };
    int(a.port, 'port', 0);
    int(a.concurrency, 'concurrency', 1);
    int(a.queue, 'queue', 0);
    if (!(a['max-body-mb'] > 0)) throw xtError('XT_INVALID', '--max-body-mb must be positive');
    const labels = resolveLabels(a.labels);
    const prompts = a.prompts ? loadPromptFile(a.prompts) : undefined;
    const model = await loadInferenceModel(a.model, { device: a.device, tokenizer: a.tokenizer });
    const s = createServer({
      model, labels, scoring: a.scoring, templates: a.templates, prompts, temperature: a.temperature, resize: a.resize,
      maxConcurrent: a.concurrency, maxQueue: a.queue, maxBodyBytes: Math.round(a['max-body-mb'] * 1024 * 1024),
      log: a.quiet ? undefined : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
    const addr = await s.listen(a.port, a.host);
    process.stdout.write(`xray-torch serve: listening on http://${addr.address}:${addr.port} (model ${a.model}, image ${model.imageSize}px)\n`);
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        process.stderr.write(`${sig}: closing\n`);
        s.close().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    model.dispose();
  },
};
