#!/usr/bin/env node
// The `airlock` command. The TypeScript sources are compiled to dist/ by
// `npm run build` (run by `npm ci` through the prepare script).
import { ignoreBrokenPipes, main } from '../dist/services/cli/main.js';

ignoreBrokenPipes();
process.exitCode = await main(process.argv);
