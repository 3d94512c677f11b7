/**
 * What a text tower needs from its tokenizer, whichever family it is: CLIP's byte-level BPE
 * (`ClipTokenizer`) or BERT's WordPiece (`WordPieceTokenizer`). A loaded model exposes one of them as
 * `model.tokenizer`.
 */
export interface TextTokenizer {
  /** Number of ids (largest id + 1); the text model's embedding table must be at least this big. */
  readonly vocabSize: number;
  /** Id put first in each row (`<|startoftext|>` for CLIP, `[CLS]` for BERT). */
  readonly startId: number;
  /** Id that ends each row's text (`<|endoftext|>` for CLIP, `[SEP]` for BERT). */
  readonly endId: number;
  /** Where it was read from (for messages). */
  readonly origin: string;
  /** Ids of `text` without the start/end tokens. */
  encode(text: string): number[];
  /**
   * Token matrix [texts.length, contextLength], row-major: start id, the text's ids (the first
   * contextLength - 2 when they do not fit), end id, then padding.
   */
  tokenize(texts: readonly string[] | string, contextLength?: number): Int32Array;
  /** Number of ids `encode` gives (what `tokenize` would cut). */
  countTokens(text: string): number;
  /** Text of the ids. */
  decode(ids: ArrayLike<number>): string;
  /** Id of a token string, or undefined. */
  tokenId(token: string): number | undefined;
  /** Token string of an id, or undefined. */
  idToken(id: number): string | undefined;
}
