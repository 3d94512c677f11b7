/** `xray-torch serve`: an HTTP inference server (healthz, classify, embed) around one loaded model. */
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { resolveLabels } from '../eval/labelsets';
import { createServer } from '../serve/server';
import { loadCliModel, modelOptions, promptOptions, promptSettings, resizeOptions, type ImageArgs, type ModelArgs, type PromptArgs } from './eval-args';

interface Args extends ModelArgs, PromptArgs, Pick<ImageArgs, 'resize'> {
  port: number;
  host: string;
  labels: string;
  concurrency: number;
  queue: number;
  'max-body-mb': number;
  quiet?: boolean;
}

export const serveCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'Serve the model over HTTP: GET /healthz, POST /v1/classify, POST /v1/embed',
  builder: (y) =>
    y
      .options(modelOptions)
      .option('port', { type: 'number', default: 8080, describe: 'TCP port (0: a free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind (0.0.0.0 for every interface)' })
      .options(promptOptions('chexpert5'))
      .options(resizeOptions)
      .option('concurrency', { type: 'number', default: 1, describe: 'model calls at once' })
      .option('queue', { type: 'number', default: 64, describe: 'requests waiting beyond which 503 is returned' })
      .option('max-body-mb', { type: 'number', default: 16, describe: 'largest request body (MiB)' })
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
    const prompts = promptSettings(a);
    const model = await loadCliModel(a);
    const s = createServer({
      model, labels, ...prompts, resize: a.resize,
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
