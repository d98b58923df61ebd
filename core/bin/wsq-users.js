#!/usr/bin/env node
// Committed launcher, so npm links the command at install time, before the build exists.
import { runUsersCli } from '../dist/src/cli/users-cli.js';

process.exitCode = await runUsersCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
