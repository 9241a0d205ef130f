export { AuditChannel, PostgresAuditLog, type AuditEntry, type AuditLog, type AuditQuery } from './audit-log.ts';
export { CHANNEL_HEADER, NATS_PRINCIPAL, ingressAudit, type IngressAudit } from './ingress-audit.ts';
export { auditTarget } from './target.ts';
