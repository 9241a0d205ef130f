export { openDatabase, type Database, type EntityManager } from './database.ts';
export * from './entities/index.ts';
export * from './rows.ts';
