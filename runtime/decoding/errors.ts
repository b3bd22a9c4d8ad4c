// One error type for bad input to the decoding layer. The message always names what was wrong and where
// (request id, position, value), because these errors surface from a serving loop where the stack says little.
// Every check runs before any state is touched, so a caught DecodingError leaves the trees exactly as they were.

/** Bad input to the decoding API: the message names the request and the field. */
export class DecodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodingError';
  }
}

export type RequestId = string | number;

// Request ids are echoed back quoted so that the string '7' and the number 7 read differently.
export const showId = (id: unknown): string => (typeof id === 'string' ? `'${id}'` : String(id));

export const showValue = (v: unknown): string => {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined || v === null) return String(v);
  return Object.prototype.toString.call(v);
};
