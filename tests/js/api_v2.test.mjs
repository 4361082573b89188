// Wharf's batch, dead-letter, move-task, tag and permission actions driven by
// aws-sdk 2.1490.0 (query protocol, XML answers, computeChecksums on). The
// test bodies are in api_suite.mjs.
import { v2Api } from './harness.mjs';
import { defineApiSuite } from './api_suite.mjs';

defineApiSuite('aws-sdk v2.1490.0 (query/XML)', (endpoint) => v2Api(endpoint));
