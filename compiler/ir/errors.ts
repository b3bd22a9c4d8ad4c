/** A malformed IR construct: the message names the op, the shapes/dtypes involved and what was expected. */
export class IRError extends Error {
  override name = 'IRError';
}
