// Wharf driven by aws-sdk 2.1490.0 (query protocol, XML answers,
// computeChecksums on). The test bodies are in suite.mjs.
import { v2Api } from './harness.mjs';
import { defineSqsSuite } from './suite.mjs';

defineSqsSuite('aws-sdk v2.1490.0 (query/XML)', (endpoint) => v2Api(endpoint));
