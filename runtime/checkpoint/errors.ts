// One error type for everything that can go wrong reading a checkpoint, so callers (the CLI, the runtime)
// can print it as is: the message always starts with the file, then the field or tensor, then what was expected.

export interface ErrorSite {
  field?: string;
  tensor?: string;
}

/** A checkpoint that cannot be loaded: the message names the file and, where known, the config field or tensor. */
export class CheckpointError extends Error {
  readonly file: string;
  readonly field?: string;
  readonly tensor?: string;

  constructor(file: string, detail: string, site: ErrorSite = {}) {
    const where = site.field !== undefined ? `field "${site.field}": ` : site.tensor !== undefined ? `tensor ${site.tensor}: ` : '';
    super(`${file}: ${where}${detail}`);
    this.name = 'CheckpointError';
    this.file = file;
    if (site.field !== undefined) this.field = site.field;
    if (site.tensor !== undefined) this.tensor = site.tensor;
  }
}

export const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
