export * from './define.ts';
export * from './envelope.ts';
export * from './subjects.ts';
export * from './registry.ts';
export * from './codec.ts';
export * from './agent-signature.ts';
export * from './messages/common.ts';
export * from './payloads.ts';
export { MergeFailure } from './messages/join.ts';
