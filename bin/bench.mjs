#!/usr/bin/env node
// `npm run bench`: runs bench/webhook-throughput.ts through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../bench/webhook-throughput.ts');
