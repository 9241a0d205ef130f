/** The `omoi` command line: commands, the protocol reference and OpenAPI generators, their helpers. */
export { buildProgram, runCli, type CliIo } from './program.ts';
export { CliError, describeFailure, EXIT_INVALID_CONFIG } from './cli-error.ts';
export { generateProtocolDoc, INPUT_ERROR_CODES, PROTOCOL_DOC_PATH } from './protocol-doc.ts';
export { generateOpenApiDocument, OPENAPI_DOC_PATH } from './openapi-doc.ts';
export { runStart, startLine, type StartOptions } from './commands/start.ts';
export { runPub, type PubOptions } from './commands/pub.ts';
export { runSub, type SubOptions } from './commands/sub.ts';
export { dlqList, dlqShow, dlqRetry, dlqDiscard, type DlqOptions } from './commands/dlq.ts';
export { runStatus, type StatusOptions } from './commands/status.ts';
export { runDocs, type DocsOptions } from './commands/docs.ts';
export { jsonLine, prettyLine } from './message-line.ts';
export { NodeFiles, readNodeFile } from './node-files.ts';
export { connectCli, natsTarget } from './nats-client.ts';
export { DEFAULT_NATS_URL, DEFAULT_NODE_URL, DLQ_STATUSES, type DlqStatus } from './defaults.ts';
