/**
 * The WordPiece tokenizer's files, read as Hugging Face reads them: `vocab.txt` (+ the
 * `tokenizer_config.json` beside it), a `tokenizer.json` with a WordPiece model, and where a directory
 * keeps them. Each reader gives a WordPieceSource; WordPieceTokenizer (wordpiece.ts) builds from it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { AddedTokenSpec, definedOnly, WordPieceOptions, WordPieceSource } from './wordpiece-options';

function readUtf8(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (e) {
    throw xtError('XT_IO', `WordPiece tokenizer: cannot read ${p}: ${(e as Error).message}`);
  }
}

function readJson(p: string): unknown {
  const text = readUtf8(p);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw xtError('XT_INVALID', `${p}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Files looked for in a directory, in this order (tokenizer.json only when its model is WordPiece). */
export const WORDPIECE_FILES = ['tokenizer.json', 'vocab.txt'];

/**
 * The WordPiece tokenizer file in a directory (or its `tokenizer/` subfolder), or undefined. A
 * tokenizer.json counts only when its model is WordPiece; a directory whose only tokenizer.json is of
 * another model type gets an XT_INVALID error saying what it is.
 */
export function findWordPieceFile(dir: string): string | undefined {
  let other: string | undefined;
  for (const d of [dir, path.join(dir, 'tokenizer')]) {
    const vocab = path.join(d, 'vocab.txt');
    const tj = path.join(d, 'tokenizer.json');
    if (fs.existsSync(tj)) {
      const type = modelTypeOf(tj);
      if (type === 'WordPiece') return tj;
      other = `${tj} has model.type ${JSON.stringify(type)}`;
    }
    if (fs.existsSync(vocab)) return vocab;
  }
  if (other) throw xtError('XT_INVALID', `WordPiece tokenizer: ${other} (expected "WordPiece", or a vocab.txt beside it)`);
  return undefined;
}

function modelTypeOf(p: string): unknown {
  const j = readJson(p) as { model?: { type?: unknown } } | null;
  return j && typeof j === 'object' ? j.model?.type : undefined;
}

/** `vocab.txt` (+ `tokenizer_config.json` beside it) as HF reads them: id = line number, lines right-trimmed. */
export function readVocabTxt(p: string): WordPieceSource {
  const text = readUtf8(p);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((line, i) => vocab.set(line.replace(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u, ''), i));
  if (vocab.size === 0) throw xtError('XT_INVALID', `${p}: empty vocabulary (expected one WordPiece token per line)`);
  const src: WordPieceSource = { vocab, origin: p };
  const cfgPath = path.join(path.dirname(p), 'tokenizer_config.json');
  if (fs.existsSync(cfgPath)) Object.assign(src, readTokenizerConfig(cfgPath));
  return src;
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The settings of a `tokenizer_config.json` that change BertTokenizer's ids. */
export function readTokenizerConfig(p: string): WordPieceOptions {
  const j = readJson(p) as Record<string, unknown>;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw xtError('XT_INVALID', `${p}: expected a JSON object`);
  const o: WordPieceOptions = {};
  const bool = (k: string): boolean | undefined => {
    const v = j[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw xtError('XT_INVALID', `${p}: ${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  o.lowercase = bool('do_lower_case');
  o.stripAccents = bool('strip_accents');
  o.handleChineseChars = bool('tokenize_chinese_chars');
  o.unkToken = tokenName(j.unk_token);
  o.clsToken = tokenName(j.cls_token);
  o.sepToken = tokenName(j.sep_token);
  o.padToken = tokenName(j.pad_token);
  o.maskToken = tokenName(j.mask_token);
  const mml = j.model_max_length;
  if (typeof mml === 'number' && Number.isInteger(mml) && mml > 0 && mml < 1e7) o.modelMaxLength = mml;
  return definedOnly(o);
}

interface TokenizerJson {
  model?: { type?: unknown; vocab?: unknown; unk_token?: unknown; continuing_subword_prefix?: unknown; max_input_chars_per_word?: unknown };
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  padding?: unknown;
  added_tokens?: unknown;
}

/** A Hugging Face `tokenizer.json` with a WordPiece model (and BertNormalizer/BertPreTokenizer). */
export function readWordPieceJson(p: string): WordPieceSource {
  const j = readJson(p) as TokenizerJson;
  if (!j || typeof j !== 'object' || !j.model || typeof j.model !== 'object') {
    throw xtError('XT_INVALID', `${p}: expected a Hugging Face tokenizer.json with a "model" object of type "WordPiece"`);
  }
  const m = j.model;
  if (m.type !== 'WordPiece') {
    throw xtError('XT_INVALID', `${p}: model.type is ${JSON.stringify(m.type)}; a WordPiece tokenizer needs "WordPiece" (a "BPE" tokenizer.json is CLIP's: use ClipTokenizer)`);
  }
  if (!m.vocab || typeof m.vocab !== 'object' || Array.isArray(m.vocab)) throw xtError('XT_INVALID', `${p}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [k, v] of Object.entries(m.vocab as Record<string, unknown>)) {
    if (typeof v !== 'number') throw xtError('XT_INVALID', `${p}: model.vocab id of ${JSON.stringify(k)} is not a number`);
    vocab.set(k, v);
  }
  const src: WordPieceSource = { vocab, origin: p };
  if (m.unk_token !== undefined) {
    if (typeof m.unk_token !== 'string') throw xtError('XT_INVALID', `${p}: model.unk_token must be a string`);
    src.unkToken = m.unk_token;
  }
  if (m.continuing_subword_prefix !== undefined && m.continuing_subword_prefix !== null) {
    if (typeof m.continuing_subword_prefix !== 'string') throw xtError('XT_INVALID', `${p}: model.continuing_subword_prefix must be a string`);
    src.continuingSubwordPrefix = m.continuing_subword_prefix;
  }
  if (m.max_input_chars_per_word !== undefined && m.max_input_chars_per_word !== null) {
    if (typeof m.max_input_chars_per_word !== 'number') throw xtError('XT_INVALID', `${p}: model.max_input_chars_per_word must be a number`);
    src.maxInputCharsPerWord = m.max_input_chars_per_word;
  }
  readNormalizer(j.normalizer, p, src);
  readPreTokenizer(j.pre_tokenizer, p);
  readPostProcessor(j.post_processor, p, src);
  const pad = j.padding as { pad_token?: unknown } | null | undefined;
  if (pad && typeof pad.pad_token === 'string') src.padToken = pad.pad_token;
  const dec = j.decoder as { type?: unknown; prefix?: unknown; cleanup?: unknown } | null | undefined;
  if (dec && dec.type === 'WordPiece' && typeof dec.cleanup === 'boolean') src.decodeCleanup = dec.cleanup;
  src.addedTokens = readAddedTokens(j.added_tokens, p);
  const cfgPath = path.join(path.dirname(p), 'tokenizer_config.json');
  if (fs.existsSync(cfgPath)) {
    const cfg = readTokenizerConfig(cfgPath);
    if (cfg.modelMaxLength !== undefined) src.modelMaxLength = cfg.modelMaxLength;
  }
  return src;
}

function readNormalizer(n: unknown, p: string, src: WordPieceSource): void {
  if (n === null || n === undefined) {
    Object.assign(src, { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false });
    return;
  }
  const o = n as Record<string, unknown>;
  if (o.type !== 'BertNormalizer') {
    throw xtError('XT_INVALID', `${p}: normalizer.type is ${JSON.stringify(o.type)}; the WordPiece tokenizer supports "BertNormalizer" (or none)`);
  }
  const flag = (k: string, dflt: boolean): boolean => {
    const v = o[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw xtError('XT_INVALID', `${p}: normalizer.${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  src.cleanText = flag('clean_text', true);
  src.handleChineseChars = flag('handle_chinese_chars', true);
  src.lowercase = flag('lowercase', true);
  const sa = o.strip_accents;
  if (sa !== undefined && sa !== null && typeof sa !== 'boolean') throw xtError('XT_INVALID', `${p}: normalizer.strip_accents must be true, false or null`);
  src.stripAccents = sa === undefined ? null : (sa as boolean | null);
}

function readPreTokenizer(pt: unknown, p: string): void {
  const t = (pt as { type?: unknown } | null | undefined)?.type;
  if (t !== 'BertPreTokenizer') {
    throw xtError('XT_INVALID', `${p}: pre_tokenizer.type is ${JSON.stringify(t)}; the WordPiece tokenizer supports "BertPreTokenizer"`);
  }
}

/** [CLS]/[SEP] names from a BertProcessing or `[CLS] $A [SEP]` TemplateProcessing post-processor. */
function readPostProcessor(pp: unknown, p: string, src: WordPieceSource): void {
  if (pp === null || pp === undefined) return;
  const o = pp as { type?: unknown; cls?: unknown; sep?: unknown; single?: unknown };
  if (o.type === 'BertProcessing') {
    if (Array.isArray(o.cls) && typeof o.cls[0] === 'string') src.clsToken = o.cls[0];
    if (Array.isArray(o.sep) && typeof o.sep[0] === 'string') src.sepToken = o.sep[0];
    return;
  }
  if (o.type === 'TemplateProcessing' && Array.isArray(o.single)) {
    const single = o.single as Array<{ SpecialToken?: { id?: unknown }; Sequence?: { id?: unknown } }>;
    const ok = single.length === 3 && single[0].SpecialToken && single[1].Sequence && single[2].SpecialToken;
    const a = single[0]?.SpecialToken?.id;
    const b = single[2]?.SpecialToken?.id;
    if (!ok || typeof a !== 'string' || typeof b !== 'string') {
      throw xtError('XT_INVALID', `${p}: post_processor.single must be [CLS] $A [SEP] (a special token, the sequence, a special token)`);
    }
    src.clsToken = a;
    src.sepToken = b;
    return;
  }
  throw xtError('XT_INVALID', `${p}: post_processor.type is ${JSON.stringify(o.type)}; the WordPiece tokenizer supports "TemplateProcessing" ([CLS] $A [SEP]) or "BertProcessing"`);
}

function readAddedTokens(a: unknown, p: string): AddedTokenSpec[] {
  if (a === undefined || a === null) return [];
  if (!Array.isArray(a)) throw xtError('XT_INVALID', `${p}: added_tokens must be an array`);
  return a.map((t, i): AddedTokenSpec => {
    const o = t as Record<string, unknown>;
    if (!o || typeof o.content !== 'string' || typeof o.id !== 'number') {
      throw xtError('XT_INVALID', `${p}: added_tokens[${i}] must have a string "content" and a number "id"`);
    }
    const special = o.special === true;
    return {
      content: o.content,
      id: o.id,
      special,
      normalized: typeof o.normalized === 'boolean' ? o.normalized : !special,
      singleWord: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
    };
  });
}
