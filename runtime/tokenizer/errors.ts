// One error type for the tokenizer. Messages start with the file when one is involved (a missing or malformed
// tokenizer.json, a bad field of tokenizer_config.json) and name the id and its index for bad token ids.

/** A tokenizer file that cannot be used, or a token id outside the vocabulary. */
export class TokenizerError extends Error {
  readonly file?: string;

  constructor(message: string, file?: string) {
    super(file !== undefined ? `${file}: ${message}` : message);
    this.name = 'TokenizerError';
    if (file !== undefined) this.file = file;
  }
}
