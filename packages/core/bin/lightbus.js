#!/usr/bin/env node
'use strict';
// For `run`, before anything else loads (see cli/young-generation.ts): released once its bus is ready.
if (process.argv.slice(2).includes('run')) require('../dist/cli/young-generation.js').holdYoungGeneration();
require('../dist/cli/main.js').main(process.argv);
