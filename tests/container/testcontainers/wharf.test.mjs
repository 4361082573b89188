// Testcontainers for Node against Wharf's image, the way a test suite uses it:
// a GenericContainer (port 9324 exposed, WHARF_EPHEMERAL=1, waiting on GET
// /health), then @aws-sdk/client-sqs against the mapped port: create a queue,
// send, receive, delete, and the container is stopped (and removed).
//
// Run by tests/container/run.sh after it has built the image, through podman's
// Docker-compatible socket (DOCKER_HOST=unix://..., TESTCONTAINERS_RYUK_DISABLED=true).
//   WHARF_IMAGE  the image to start (default localhost/wharf:ci)
// Prints `testcontainers: start->first answer N ms (...)`: from the call of
// start() (create, start, /health answered) to the first SQS answer, after
// Testcontainers' one-time discovery of the container runtime (timed apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { GenericContainer, Wait, getContainerRuntimeClient } from 'testcontainers';
import {
  SQSClient,
  CreateQueueCommand,
  SendMessageCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';

const IMAGE = process.env.WHARF_IMAGE || 'localhost/wharf:ci';

test('Wharf image under Testcontainers: create, send, receive, delete', async () => {
  const tDiscovery = performance.now();
  await getContainerRuntimeClient(); // what the first start() would do anyway
  const t0 = performance.now();
  const container = await new GenericContainer(IMAGE)
    .withExposedPorts(9324)
    .withEnvironment({ WHARF_EPHEMERAL: '1' })
    // The wait polls at its read timeout (1 s by default); 250 ms keeps a first
    // probe that comes too early from costing a whole second.
    .withWaitStrategy(Wait.forHttp('/health', 9324).forStatusCode(200).withReadTimeout(250))
    .withStartupTimeout(30_000)
    .start();
  const started = performance.now();
  try {
    const endpoint = `http://${container.getHost()}:${container.getMappedPort(9324)}`;
    const sqs = new SQSClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });

    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'testcontainers-orders' }));
    const firstAnswer = performance.now();
    // Queue URLs come from the Host header: the mapped host and port, not 9324.
    assert.equal(QueueUrl, `${endpoint}/000000000000/testcontainers-orders`);

    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello from testcontainers' }));
    assert.ok(sent.MessageId);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }));
    assert.equal(got.Messages?.length, 1);
    assert.equal(got.Messages[0].Body, 'hello from testcontainers');
    assert.equal(got.Messages[0].MessageId, sent.MessageId);
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: got.Messages[0].ReceiptHandle }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }));
    assert.equal(attrs.Attributes.ApproximateNumberOfMessages, '0');
    assert.equal(attrs.Attributes.ApproximateNumberOfMessagesNotVisible, '0');

    // The image's HEALTHCHECK command passes inside the container (Docker runs
    // it one 1 s interval after the start).
    const health = await container.exec(['/wharf', 'health']);
    assert.equal(health.exitCode, 0, `wharf health: ${health.output}`);

    console.log(`testcontainers: start->first answer ${Math.round(firstAnswer - t0)} ms ` +
                `(start() ${Math.round(started - t0)} ms; runtime discovery before it ` +
                `${Math.round(t0 - tDiscovery)} ms; image ${IMAGE})`);
  } finally {
    const t1 = performance.now();
    await container.stop({ timeout: 5 });
    console.log(`testcontainers: stop ${Math.round(performance.now() - t1)} ms`);
  }
});
