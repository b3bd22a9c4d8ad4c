// Public API of the tokenizer: Hugging Face tokenizer.json loading, encode/decode exact to the Python
// `tokenizers` package, and streaming detokenization.
export { Tokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer.ts';
export { StreamingDetokenizer, type StreamingOptions } from './streaming-detokenizer.ts';
export { TokenizerError } from './errors.ts';
