#!/usr/bin/env node
// Committed launcher, so npm links the command at install time, before the build exists.
import { main } from '../dist/src/main.js';

await main();
