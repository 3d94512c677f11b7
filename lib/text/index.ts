/** Text: the CLIP tokenizer, BPE training, report parsing, sentence splitting and sampling. */
export {
  ClipTokenizer,
  findTokenizer,
  pretokenize,
  bytesToUnicode,
  readOpenAiMerges,
  readHfPair,
  readTokenizerJson,
  START_OF_TEXT,
  END_OF_TEXT,
  END_OF_WORD,
  OPENAI_MERGE_COUNT,
  TOKENIZER_FILES,
} from './clip-tokenizer';
export type { ClipTokenizerSource } from './clip-tokenizer';
export { clipNormalize, basicClean, whitespaceClean, fixText, htmlUnescape } from './normalize';
export { trainBpeTokenizer, trainBpeFromCounts, saveBpeTokenizer, countWords, BPE_BASE_VOCAB } from './bpe-train';
export type { TrainBpeOptions, TrainedBpe, SaveTokenizerOptions } from './bpe-train';
export { readCorpus } from './corpus';
export type { CorpusOptions, CorpusStats } from './corpus';
export {
  parseReport,
  parseTextReport,
  parseOpenIXml,
  decodeXmlText,
  selectSections,
  selectText,
  reportSentences,
} from './reports';
export type { ParsedReport, OpenIReport, ReportFormat, SectionSelection, SelectOptions } from './reports';
export { splitSentences, isDeidToken } from './sentences';
export type { SplitOptions } from './sentences';
export {
  SentenceSampler,
  sampleSentences,
  assignGroupIds,
  normalizeForGrouping,
  exampleRng,
} from './sampling';
export type {
  SamplerOptions,
  SampledText,
  BatchSample,
  BatchItem,
  PreparedReport,
  DrawOptions,
  ExampleId,
} from './sampling';
export type { TextTokenizer } from './text-tokenizer';
export {
  WordPieceTokenizer,
  findWordPieceTokenizer,
  findWordPieceFile,
  readVocabTxt,
  readWordPieceJson,
  readTokenizerConfig,
  bertNormalize,
  bertPreTokenize,
  WORDPIECE_FILES,
} from './wordpiece';
export type { WordPieceOptions, WordPieceSource, AddedTokenSpec, BertNormalizerOptions } from './wordpiece';
export { bundledClipTokenizer, bundledVocabDir, OPENAI_VOCAB_SIZE, OPENAI_VOCAB_FILE } from './bundled-vocab';
