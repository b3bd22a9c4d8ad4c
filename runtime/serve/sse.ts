// Server-sent events as vLLM writes them: `data: {json}\n\n` per chunk, `data: [DONE]\n\n` last. The stream's
// cancel (the client went away) runs the given abort, which cancels the engine requests and frees their slots.
export interface SseWriter {
  send(obj: unknown): void;
  done(): void;
  readonly closed: boolean;
}

export function sseResponse(start: (w: SseWriter) => void, onAbort: () => void): Response {
  const enc = new TextEncoder();
  let closed = false;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const w: SseWriter = {
    send(obj) { if (!closed) ctl.enqueue(enc.encode(`data: ${JSON.stringify(obj)}\n\n`)); },
    done() { if (!closed) { ctl.enqueue(enc.encode('data: [DONE]\n\n')); closed = true; ctl.close(); } },
    get closed() { return closed; },
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) { ctl = c; start(w); },
    cancel() { closed = true; onAbort(); },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' } });
}
