export { startHttp, buildHttpServer } from './server.ts';
export type { HttpDeps, Readiness } from './deps.ts';
export type { ErrorBody } from './error-reply.ts';
export { generateAgentKeyPair, type AgentKeyPair } from './agent-keys.ts';
export { EventFeed } from './live-events/event-feed.ts';
