export { loadConfig } from './load.ts';
export { DEFAULTS, defaultNodeId, isSafeNodeId, type OmoiConfig } from './options.ts';
export { SETTINGS, type Setting } from './settings.ts';
export { natsServers } from './nats-servers.ts';
