export { MemoryKind, MemoryStore, MEMORY_BODY_MAX, MEMORY_EXCERPT_MAX, MEMORY_LIMIT_MAX, MEMORY_QUERY_MAX, type MemoryEntry, type MemoryHit } from './memory-store.ts';
export { ensureMemoryIndexConsumer, MemoryIndexer, MEMORY_INDEX_CONSUMER } from './memory-indexer.ts';
export { MemoryRecall, type RecallRequest, type TaskMemory, type TaskRecall } from './task-recall.ts';
