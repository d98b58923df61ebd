/**
 * The JetStream reference against a nats-server this test starts (free ports, JetStream on a
 * temp file store): a tiny acknowledged pipe (PubAcks counted, at most a few in flight) and a
 * NATS core pipe on the same server, whose messages the bench's stream must not capture.
 */
import t from 'tap';
import { natsRequest } from '../src/nats-client.js';
import { BENCH_STREAM, createBenchStream, findNatsServer, natsEndpoint, startNatsServer } from '../src/nats.js';
import { runScenario } from '../src/runner.js';

const natsServer = findNatsServer();
const plan = { name: 'pipe' as const, messages: 300, subscribers: 1, publishers: 1, topics: 1, ratePerSec: 0 };

t.test('the JetStream reference: PubAcks on a file stream, N in flight, one subscriber', async (t) => {
  if (!natsServer) {
    t.pass('skipped', { skip: 'nats-server is not installed (apt-get install nats-server)' });
    return;
  }
  const nats = await startNatsServer(natsServer, { jetstream: true });
  t.teardown(() => nats.stop());
  await createBenchStream(nats);
  const base = {
    workers: 2,
    payloadBytes: 64,
    publisherBufferBytes: 64 * 1024,
    connectConcurrency: 4,
    idleTimeoutMs: 5000,
  };
  const js = await runScenario({
    ...base,
    plan,
    endpoint: natsEndpoint(nats, 'jetstream', 7),
    topicPrefix: 'bench.pipe.jetstream.test',
  });
  t.match(js, { system: 'jetstream', published: 300, deliveries: 300, lost: 0, duplicates: 0, refused: 0, acked: 300 });
  t.ok(js.clientBusy! > 0 && js.clientBusy! <= 1, 'how busy the busiest client worker was');
  t.equal(js.ackLatency?.count, 300, 'every PubAck timed');
  t.ok(js.ackLatency!.p50 > 0 && js.ackLatency!.p99 >= js.ackLatency!.p50, 'ack latencies');
  const core = await runScenario({ ...base, plan, endpoint: natsEndpoint(nats), topicPrefix: 'bench.pipe.nats.test' });
  t.match(core, { system: 'nats', deliveries: 300, lost: 0 });
  t.equal(core.acked, undefined, 'NATS core acknowledges nothing');
  const info = JSON.parse(await natsRequest(natsEndpoint(nats), `$JS.API.STREAM.INFO.${BENCH_STREAM}`, '')) as {
    config: { storage: string };
    state: { messages: number };
  };
  t.equal(info.config.storage, 'file', 'a file-backed stream');
  t.equal(info.state.messages, 300, 'the stream holds the JetStream messages and none of the NATS core ones');
  await t.rejects(createBenchStream({ ...nats, user: 'nobody' }), 'a refused connection fails the set-up');
  // NATS core answers no publish: a publisher bounded to 5 in flight stops after 5, and gives up
  // after the idle timeout instead of waiting for ever.
  const unanswered = await runScenario({
    ...base,
    idleTimeoutMs: 300,
    plan,
    endpoint: { ...natsEndpoint(nats), acks: true, inFlight: 5 },
    topicPrefix: 'bench.pipe.nats.unanswered',
  });
  t.match(unanswered, { published: 5, acked: 0, deliveries: 5 });
  t.match(unanswered.publishFailed, /no ack for 300 ms with 5 messages in flight/);
});
