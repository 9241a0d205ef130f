export { LeaseManager } from './leases.ts';
export { ensurePartitionCount } from './partition-count.ts';
