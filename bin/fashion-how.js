#!/usr/bin/env node
// Entry point of the `fashion-how` command; the code lives in dist/ (built by `npm install`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
