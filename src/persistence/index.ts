export { openDatabase, type Database, type EntityManager } from './database.ts';
export * from './entities/index.ts';
export * from './rows.ts';
export { RETENTION_RULES, RetentionSweep, type RetentionRule, type RetentionSetting, type SweepResult } from './retention.ts';
export { eventLogRow, recordEvent, type LoggedEvent } from './event-log.ts';
