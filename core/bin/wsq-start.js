#!/usr/bin/env node
// `npm start`: the trio as three processes (core/src/cli/start.ts).
import { runStart } from '../dist/src/cli/start.js';

process.exitCode = await runStart();
