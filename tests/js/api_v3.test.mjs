// Wharf's batch, dead-letter, move-task, tag and permission actions driven by
// @aws-sdk/client-sqs (AWS JSON 1.0 protocol, query-compatible errors, md5
// middleware on). The test bodies are in api_suite.mjs.
import { v3Api } from './harness.mjs';
import { defineApiSuite } from './api_suite.mjs';

defineApiSuite('@aws-sdk/client-sqs v3 (JSON)', (endpoint) => v3Api(endpoint));
