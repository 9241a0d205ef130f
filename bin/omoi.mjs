#!/usr/bin/env node
// The `omoi` command. TypeScript runs through tsx (no build step): register its loader,
// then hand over to the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
