#!/usr/bin/env node
'use strict';
// The process entry (src/main.ts, package.json "main"); the build output lives in dist/ (npm start / npm test build it).
require('../dist/main.js');
