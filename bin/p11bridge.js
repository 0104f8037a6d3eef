#!/usr/bin/env node
'use strict';
// The operator CLI; the build output lives in dist/ (npm start / npm test build it).
require('../dist/cli/index.js');
