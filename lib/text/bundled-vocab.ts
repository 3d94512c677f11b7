/**
 * OpenAI CLIP's BPE vocabulary, shipped with the package (vocab/bpe_simple_vocab_16e6.txt.gz, MIT,
 * OpenAI) as OpenAI's `clip` and open_clip ship it: the tokenizer of weights that come without one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { ClipTokenizer } from './clip-tokenizer';

/** Tokens in OpenAI's vocabulary: 256 bytes, the same with `</w>`, 48,894 merges, the two specials. */
export const OPENAI_VOCAB_SIZE = 49408;

/** The bundled merges file's name (also what `findTokenizer` looks for beside weights). */
export const OPENAI_VOCAB_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/** The package's vocab/ folder (from lib/text/ or dist/lib/text/, whichever this file runs from). */
export function bundledVocabDir(): string {
  for (const up of [['..', '..'], ['..', '..', '..']]) {
    const dir = path.resolve(__dirname, ...up, 'vocab');
    if (fs.existsSync(path.join(dir, OPENAI_VOCAB_FILE))) return dir;
  }
  throw xtError('XT_IO', `the bundled CLIP vocabulary (vocab/${OPENAI_VOCAB_FILE}) is missing from the xray-torch install at ${path.resolve(__dirname, '..', '..', '..')}`);
}

let cached: ClipTokenizer | undefined;

/** OpenAI's CLIP tokenizer from the bundled vocabulary (read once; the tokenizer is stateless apart from its cache). */
export function bundledClipTokenizer(): ClipTokenizer {
  cached ??= ClipTokenizer.fromFile(path.join(bundledVocabDir(), OPENAI_VOCAB_FILE));
  return cached;
}
