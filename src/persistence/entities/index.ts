export * from './infrastructure.ts';
export * from './dag.ts';
export * from './access.ts';
export * from './alert-delivery.ts';
export * from './alerts.ts';
export * from './webhooks.ts';
export * from './memory.ts';
export * from './approvals.ts';
export * from './ticket-push.ts';
export * from './specs.ts';
export * from './task-log.ts';
import { AgentMessageEntity, ClusterEntity, DeadLetterEntity, EventLogEntity, LeaseHistoryEntity, NodeEntity, OutboxEntity, PartitionLeaseEntity, ProcessedMessageEntity } from './infrastructure.ts';
import { AuditEntity, PrincipalEntity } from './access.ts';
import { AlertDeliveryEntity } from './alert-delivery.ts';
import { AlertEntity } from './alerts.ts';
import { SpecArtifactEntity, SpecEntity } from './specs.ts';
import { GithubDeliveryEntity, GithubIssueTicketEntity, WebhookDeliveryEntity, WebhookSubscriptionEntity } from './webhooks.ts';
import { MemoryEntity } from './memory.ts';
import { ApprovalEntity } from './approvals.ts';
import { TicketPushEntity } from './ticket-push.ts';
import { TaskLogEntity } from './task-log.ts';
import { AgentEntity, AttemptUsageEntity, FileClaimEntity, JoinEntity, JoinSourceEntity, MergeAttemptEntity, TaskEntity, TicketEntity } from './dag.ts';

export const ENTITIES = [
  ClusterEntity, NodeEntity, PartitionLeaseEntity, LeaseHistoryEntity, ProcessedMessageEntity, OutboxEntity, DeadLetterEntity, EventLogEntity, AgentMessageEntity,
  TicketEntity, TaskEntity, FileClaimEntity, JoinEntity, JoinSourceEntity, MergeAttemptEntity, AgentEntity, AttemptUsageEntity,
  PrincipalEntity, AuditEntity,
  AlertEntity, AlertDeliveryEntity,
  WebhookSubscriptionEntity, WebhookDeliveryEntity, GithubDeliveryEntity, GithubIssueTicketEntity,
  MemoryEntity, ApprovalEntity, TicketPushEntity, SpecEntity, SpecArtifactEntity, TaskLogEntity,
];
