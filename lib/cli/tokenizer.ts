/**
 * `xray-torch tokenizer train --corpus FILE|DIR --vocab-size N --out DIR`: learn a CLIP-style
 * byte-level BPE from report text and save it in the Hugging Face layout beside a model.
 * `xray-torch tokenizer encode --tokenizer PATH TEXT…`: print the ids a tokenizer gives.
 */
import type { Argv, CommandModule } from 'yargs';
import { xtError } from '../errors';
import { saveBpeTokenizer, trainBpeTokenizer } from '../text/bpe-train';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { readCorpus } from '../text/corpus';
import type { SectionSelection } from '../text/reports';

interface TrainArgs {
  corpus: string;
  'vocab-size': number;
  out: string;
  'min-frequency': number;
  sections: string;
  json?: boolean;
}

interface EncodeArgs {
  tokenizer: string;
  text: string[];
  'context-length'?: number;
}

function parseSections(s: string): 'all' | SectionSelection {
  if (s === 'all' || s === 'both' || s === 'findings' || s === 'impression') return s;
  const names = s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  if (!names.length) throw xtError('XT_INVALID', `--sections: expected all, both, findings, impression or a comma list, got ${JSON.stringify(s)}`);
  return names;
}

const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Learn a CLIP-style byte-level BPE from report text and save vocab.json + merges.txt',
  builder: (y) =>
    y
      .option('corpus', { type: 'string', demandOption: true, describe: 'file or directory: Open-I .xml, report .txt, .jsonl, .tgz/.tar(.gz), .gz' })
      .option('vocab-size', { type: 'number', demandOption: true, describe: 'total vocabulary size incl. 512 byte symbols and 2 special tokens' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write the tokenizer into (e.g. the model directory)' })
      .option('min-frequency', { type: 'number', default: 2, describe: 'smallest pair count that is still merged' })
      .option('sections', { type: 'string', default: 'all', describe: 'report text to use: all, both (findings+impression), findings, impression, or a comma list' })
      .option('json', { type: 'boolean', describe: 'print one JSON object' }) as unknown as Argv<TrainArgs>,
  handler: (argv) => {
    const vocabSize = argv['vocab-size'];
    if (!Number.isInteger(vocabSize)) throw xtError('XT_INVALID', `--vocab-size must be an integer, got ${vocabSize}`);
    const t0 = Date.now();
    const { texts, stats } = readCorpus(argv.corpus, { sections: parseSections(argv.sections) });
    if (!texts.length) throw xtError('XT_INVALID', `--corpus ${argv.corpus}: no report text found (${stats.skipped} files skipped)`);
    const t1 = Date.now();
    const trained = trainBpeTokenizer(texts, { vocabSize, minFrequency: argv['min-frequency'] });
    const t2 = Date.now();
    const files = saveBpeTokenizer(trained, argv.out, {
      info: { corpus: argv.corpus, texts: texts.length, words: trained.words, word_count: trained.wordCount, min_frequency: argv['min-frequency'], stop: trained.stop },
    });
    const summary = {
      out: argv.out,
      files,
      texts: texts.length,
      corpusFiles: stats.files,
      skippedFiles: stats.skipped,
      distinctWords: trained.words,
      words: trained.wordCount,
      merges: trained.merges.length,
      vocabSize: trained.vocab.size,
      stop: trained.stop,
      readMs: t1 - t0,
      trainMs: t2 - t1,
    };
    if (argv.json) {
      process.stdout.write(JSON.stringify(summary) + '\n');
    } else {
      process.stdout.write(
        `read ${texts.length} texts from ${stats.files} files (${stats.skipped} skipped) in ${summary.readMs} ms\n` +
          `learned ${summary.merges} merges over ${trained.words} distinct words (${trained.wordCount} in all) in ${summary.trainMs} ms` +
          (trained.stop === 'min-frequency' ? ` (stopped early: no pair occurs ${argv['min-frequency']}+ times)` : '') +
          `\nvocabulary ${summary.vocabSize} tokens -> ${files.join(', ')}\n`,
      );
    }
  },
};

const encodeCommand: CommandModule<object, EncodeArgs> = {
  command: 'encode <text..>',
  describe: 'Print the BPE ids of texts (one JSON array per text)',
  builder: (y) =>
    y
      .positional('text', { type: 'string', array: true, demandOption: true })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'vocab file or model/checkpoint directory' })
      .option('context-length', { type: 'number', describe: 'print the padded [start, ids, end, 0…] rows of this length instead' }) as unknown as Argv<EncodeArgs>,
  handler: (argv) => {
    const tok = ClipTokenizer.fromFile(argv.tokenizer);
    for (const t of argv.text) {
      const L = argv['context-length'];
      const ids = L ? Array.from(tok.tokenize([t], L)) : tok.encode(t);
      process.stdout.write(JSON.stringify(ids) + '\n');
    }
  },
};

export const tokenizerCommand: CommandModule<object, object> = {
  command: 'tokenizer <command>',
  describe: 'Train or try a CLIP BPE tokenizer',
  builder: (y) => y.command(trainCommand).command(encodeCommand).demandCommand(1) as unknown as Argv<object>,
  handler: () => undefined,
};
