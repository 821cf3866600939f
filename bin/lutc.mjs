#!/usr/bin/env node
// Entry point of the `lutc` command: runs the compiled CLI (built into dist/ by `npm install`).
import { main } from '../dist/compiler/cli.js';

process.exitCode = await main(process.argv.slice(2));
