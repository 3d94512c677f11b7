/** The WordPiece tokenizer's settings and vocabulary, as the file readers give them and the tokenizer takes them. */

/** An added token (HF `AddedToken`): matched in the text before WordPiece runs. */
export interface AddedTokenSpec {
  content: string;
  id: number;
  special?: boolean;
  /** Matched in the normalised text (true) or in the raw text (false, the default for special tokens). */
  normalized?: boolean;
  /** Only when not inside a word. */
  singleWord?: boolean;
  /** Takes the white space on its left / right with it. */
  lstrip?: boolean;
  rstrip?: boolean;
}

export interface WordPieceOptions {
  /** Lower-case (HF `do_lower_case` / BertNormalizer `lowercase`). Default true, as BertTokenizer. */
  lowercase?: boolean;
  /** Strip accents; undefined/null follows `lowercase` (HF's default). */
  stripAccents?: boolean | null;
  /** Drop control characters and map white space to ' '. Default true. */
  cleanText?: boolean;
  /** Put spaces around CJK ideographs. Default true. */
  handleChineseChars?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  /** Default '##'. */
  continuingSubwordPrefix?: string;
  /** Default 100. */
  maxInputCharsPerWord?: number;
  /** Added tokens besides the special tokens above (e.g. a tokenizer.json's `added_tokens`). */
  addedTokens?: AddedTokenSpec[];
  /** `model_max_length` when known (informational; `tokenize` takes the context length it is given). */
  modelMaxLength?: number;
  /** Decoder cleanup (" ." → "." …), as HF's WordPiece decoder. Default true. */
  decodeCleanup?: boolean;
  /** Where it was read from (for messages). */
  origin?: string;
}

export interface WordPieceSource extends WordPieceOptions {
  /** Token string → id. */
  vocab: Map<string, number>;
}

/** `o` without its undefined fields (so that spreading it over defaults keeps the defaults). */
export function definedOnly<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}
