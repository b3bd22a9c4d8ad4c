// OpenAI-style errors: every failure the server answers is {"error": {"message", "type", "param", "code"}}
// with the HTTP status that says what went wrong.
import type { z } from 'zod';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'service_unavailable_error';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, o: { type?: ErrorType; param?: string | null; code?: string | null } = {}) {
    super(message);
    this.status = status;
    this.type = o.type ?? (status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status >= 500 ? (status === 503 ? 'service_unavailable_error' : 'server_error') : 'invalid_request_error');
    this.param = o.param ?? null;
    this.code = o.code ?? null;
  }

  get body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ApiError => new ApiError(400, message, { param, code });

/** The first zod issue as a 400 naming the field, e.g. `"max_tokens": expected int, received string`. */
export function fromZod(e: z.ZodError): ApiError {
  const i = e.issues[0];
  const path = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') return badRequest(`unknown field "${[path, ...i.keys].filter(Boolean).join('.')}"`, i.keys[0] ?? null);
  return badRequest(path ? `"${path}": ${i.message}` : i.message, path || null, 'invalid_value');
}
