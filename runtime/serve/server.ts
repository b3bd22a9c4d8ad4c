// `arcticc serve` as a library: an engine core over a loaded engine, the Hono app, and a node HTTP server on
// 127.0.0.1 unless told otherwise. shutdown() drains (no new requests, running and queued ones finish), then
// stops; close() cancels whatever runs and stops at once.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { EngineCore } from '../engine/scheduler.ts';
import type { SpeculativeEngine } from '../engine/engine.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { buildApp } from './app.ts';
import { loadChatTemplate } from './chat-template.ts';
import type { ChatTemplate } from './chat-template.ts';
import type { ServeContext } from './generation.ts';
import { ServeMetrics } from './metrics.ts';

export interface ServeOptions {
  readonly engine: SpeculativeEngine;
  readonly tokenizer: Tokenizer;
  /** the model folder (its chat template is read from there unless chatTemplate is given) */
  readonly modelPath: string;
  readonly modelName?: string;
  /** undefined: read from modelPath; null: none */
  readonly chatTemplate?: ChatTemplate | null;
  readonly host?: string;
  /** 0 = an ephemeral port */
  readonly port?: number;
  /** requests running at once (default and cap: the target's KV slots) */
  readonly maxNumSeqs?: number;
  /** requests waiting for a slot before new ones get 503 (default 4 × max-num-seqs) */
  readonly maxQueueLen?: number;
  readonly apiKey?: string | null;
  readonly maxBodyBytes?: number;
  readonly version?: string;
  /** process metrics (CPU, memory, event loop) in /metrics (default true) */
  readonly processMetrics?: boolean;
}

export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly app: Hono;
  readonly core: EngineCore;
  readonly context: ServeContext;
  /** drain: refuse new requests (503), let running and queued ones finish, then stop listening */
  shutdown(): Promise<void>;
  /** cancel everything and stop listening */
  close(): Promise<void>;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const target = o.engine.target;
  const maxNumSeqs = Math.min(o.maxNumSeqs ?? target.slots.count, target.slots.count);
  const core = o.engine.core({ maxRunning: maxNumSeqs, maxWaiting: o.maxQueueLen ?? 4 * maxNumSeqs });
  const modelName = o.modelName ?? o.modelPath;
  const ctx: ServeContext = {
    core, tokenizer: o.tokenizer, modelName, modelPath: o.modelPath, maxModelLen: target.maxModelLen,
    eosIds: [...new Set([...target.config.eosTokenIds, ...o.tokenizer.eosIds])],
    metrics: new ServeMetrics(core, modelName, { processMetrics: o.processMetrics }),
    chat: o.chatTemplate === undefined ? loadChatTemplate(o.modelPath, o.tokenizer) : o.chatTemplate,
    draining: false,
  };
  const app = buildApp(ctx, { apiKey: o.apiKey, maxBodyBytes: o.maxBodyBytes, version: o.version ?? '0.0.0' });
  const host = o.host ?? '127.0.0.1';
  const { server, info } = await new Promise<{ server: Server; info: AddressInfo }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 8000 }, (info) => resolve({ server: s as Server, info }));
    (s as Server).once('error', reject);
  });
  // long generations: no request timeout from node itself
  server.requestTimeout = 0;
  const stop = (): Promise<void> => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
  let stopping: Promise<void> | null = null;
  const urlHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    url: `http://${urlHost}:${info.port}`, host: info.address, port: info.port, app, core, context: ctx,
    shutdown() {
      return stopping ??= (async () => {
        ctx.draining = true;
        await core.drain();
        await stop();
      })();
    },
    close() {
      return stopping ??= (async () => {
        ctx.draining = true;
        await core.abortAll();
        await stop();
      })();
    },
  };
}
