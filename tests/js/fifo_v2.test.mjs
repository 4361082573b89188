// Wharf's FIFO queues and fair queues driven by aws-sdk 2.1490.0 (query
// protocol, XML answers, computeChecksums on). The test bodies are in
// fifo_suite.mjs.
import { v2Api } from './harness.mjs';
import { defineFifoSuite } from './fifo_suite.mjs';

defineFifoSuite('aws-sdk v2.1490.0 (query/XML)', (endpoint) => v2Api(endpoint));
