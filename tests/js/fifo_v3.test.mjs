// Wharf's FIFO queues and fair queues driven by @aws-sdk/client-sqs (AWS JSON
// 1.0 protocol, query-compatible errors, md5 middleware on). The test bodies
// are in fifo_suite.mjs.
import { v3Api } from './harness.mjs';
import { defineFifoSuite } from './fifo_suite.mjs';

defineFifoSuite('@aws-sdk/client-sqs v3 (JSON)', (endpoint) => v3Api(endpoint));
