// Public API of the OpenAI-compatible server (`arcticc serve`).
export { startServer, type RunningServer, type ServeOptions } from './server.ts';
export { buildApp, keyMatches, type AppOptions } from './app.ts';
export { ChatTemplate, loadChatTemplate } from './chat-template.ts';
export { ApiError } from './errors.ts';
export { TextStream } from './text-stream.ts';
