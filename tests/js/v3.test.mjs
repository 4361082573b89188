// Wharf driven by @aws-sdk/client-sqs (AWS JSON 1.0 protocol, query-compatible
// errors, md5 middleware on). The test bodies are in suite.mjs.
import { v3Api } from './harness.mjs';
import { defineSqsSuite } from './suite.mjs';

defineSqsSuite('@aws-sdk/client-sqs v3 (JSON)', (endpoint) => v3Api(endpoint));
