#!/usr/bin/env node
// Thin shim: the CLI lives in src/cli (compiled to dist/ by `npm install`).
import { main } from '../dist/src/cli/main.js';

main();
