export { loadConfig } from './load.ts';
export { DEFAULTS, type OmoiConfig } from './options.ts';
export { SETTINGS, type Setting } from './settings.ts';
