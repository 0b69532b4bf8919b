'use strict';
// HubClient against a real pulse_hub: relaying between two Node peers, no echo, cursors
// and pages, live subscriptions, retries, reused identities, rejections and tokens.
// Needs PULSE_HUB_BINARY; run through hub_client_test.sh (bazel test //client/node:...).
const { test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const {
  HubClient, PushRejected, collectiveChange, experienceChange, createdCollective,
  createdExperience, payloadKind,
} = require('..');
const { startHub } = require('./hub_process');

const DEADLINE_MS = 20000;
const HUB_FLAGS = ['--heartbeat_interval=200ms']; // also makes the hub's ticker fine-grained
const TOKEN = 'agent-secret-token-0001';

let hub;
let dir;
let clients;

async function freshHub(extraFlags = []) {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'hub-'));
  hub = await startHub(process.env.PULSE_HUB_BINARY, path.join(dir, 'hub'), [...HUB_FLAGS, ...extraFlags]);
}

function client(options) {
  const c = new HubClient(hub.address, options);
  clients.push(c);
  return c;
}

async function team(owner, dimension = 4) {
  const change = collectiveChange('team', dimension);
  await owner.push([change]);
  return createdCollective(change);
}

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

beforeEach(() => { clients = []; hub = null; dir = null; });
afterEach(async () => {
  for (const c of clients) c.close();
  if (hub) assert.equal(await hub.stop(), 0);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a change reaches the other peer and is never echoed', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const collectivePush = collectiveChange('team', 4);
  const lesson = experienceChange(createdCollective(collectivePush), 'retry with backoff',
    { embedding: [0.1, 0.2, 0.3, 0.4] });
  const result = await alice.push([collectivePush, lesson]);
  assert.deepEqual([collectivePush.sequence, lesson.sequence], [1, 2]);
  assert.equal(result.acknowledged, 2);
  assert.equal(alice.nextSequence, 3);

  const received = await collect(bob.pull());
  assert.deepEqual(received.map((c) => [c.source_instance.toString('hex'), c.sequence, payloadKind(c)]), [
    [alice.instanceId.toString('hex'), 1, 'collective_created'],
    [alice.instanceId.toString('hex'), 2, 'experience_created'],
  ]);
  assert.equal(createdExperience(received[1]).content, 'retry with backoff');
  assert.ok(received[0].log_sequence < received[1].log_sequence);
  assert.equal(bob.cursor, received[1].log_sequence);

  assert.deepEqual(await collect(alice.pull()), []); // nothing comes back to its origin
  assert.equal(alice.cursor, bob.cursor); // though the cursor passes it
  assert.deepEqual(await collect(bob.pull()), []); // and the cursor was followed
});

test('pull follows cursors across pages', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const collective = await team(alice);
  await alice.push([0, 1, 2, 3, 4].map((i) => experienceChange(collective, `lesson ${i}`)));
  const received = await collect(bob.pull({ batchSize: 2 }));
  assert.deepEqual(received.map((c) => c.sequence), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(await collect(bob.pull({ batchSize: 2 })), []);
});

test('a retried push is acknowledged as a duplicate, not applied twice', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const lesson = experienceChange(await team(alice), 'once');
  await alice.push([lesson]);
  const again = await alice.push([lesson]); // as after a push whose reply was lost
  assert.deepEqual([again.accepted, again.duplicates], [1, 1]);
  assert.deepEqual((await collect(bob.pull())).map((c) => c.sequence), [1, 2]);
});

test('a reused identity continues after what the hub acknowledged', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const collective = await team(alice);
  await alice.push([experienceChange(collective, 'before restart')]);
  const restarted = client({ instanceId: alice.instanceId });
  await restarted.handshake();
  assert.equal(restarted.nextSequence, 3);
  await restarted.push([experienceChange(collective, 'after restart')]);
  const contents = (await collect(bob.pull())).map(createdExperience).filter(Boolean)
    .map((e) => e.content);
  assert.deepEqual(contents, ['before restart', 'after restart']);
});

test('a rejected change is renumbered when pushed again', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const pending = collectiveChange('later', 4);
  const orphan = experienceChange(createdCollective(pending), 'needs its collective');
  await assert.rejects(alice.push([orphan]), (error) => {
    assert.ok(error instanceof PushRejected);
    assert.deepEqual([error.sequence, error.acknowledged], [1, 0]);
    return true;
  });
  assert.equal(orphan.sequence, 0);
  await alice.push([pending]); // sequence 2
  await alice.push([orphan]); // sequence 3: a fresh number, not taken for a replay of 1
  assert.deepEqual((await collect(bob.pull())).map(payloadKind), ['collective_created', 'experience_created']);
});

test('an embedding of the wrong length is refused before sending', () => {
  const collective = createdCollective(collectiveChange('team', 4));
  assert.throws(() => experienceChange(collective, 'short', { embedding: [1, 2] }), RangeError);
});

// Five changes in batches of two make three batches: they go on one PushStream.
function forbidUnaryPush(c) {
  c._sync.Push = () => {
    throw new Error('a push of several batches went out as unary Push calls');
  };
}

test('several batches go on one push stream, in order', async () => {
  await freshHub(['--max_batch_size=2']);
  const alice = client();
  const bob = client();
  const group = await team(alice); // one batch: a unary Push
  forbidUnaryPush(alice);
  const notes = [0, 1, 2, 3, 4].map((i) => experienceChange(group, `note ${i}`));
  const result = await alice.push(notes);
  assert.deepEqual([result.accepted, result.acknowledged], [5, 6]);
  const contents = (await collect(bob.pull())).map(createdExperience).filter(Boolean)
    .map((e) => e.content);
  assert.deepEqual(contents, ['note 0', 'note 1', 'note 2', 'note 3', 'note 4']);
});

test('a rejection in a streamed batch stops there', async () => {
  await freshHub(['--max_batch_size=2']);
  const alice = client();
  const bob = client();
  const group = await team(alice);
  forbidUnaryPush(alice);
  const pending = collectiveChange('later', 4);
  const orphan = experienceChange(createdCollective(pending), 'needs its collective');
  const changes = [experienceChange(group, 'first'), experienceChange(group, 'second'),
    experienceChange(group, 'third'), orphan, experienceChange(group, 'after')];
  // Batches (2, 3), (4, 5), (6): the orphan is 5.
  await assert.rejects(alice.push(changes), (error) => error instanceof PushRejected &&
    error.sequence === 5 && error.acknowledged === 4);
  assert.deepEqual(changes.map((c) => c.sequence), [2, 3, 4, 0, 0]);
  const contents = (await collect(bob.pull())).map(createdExperience).filter(Boolean)
    .map((e) => e.content);
  assert.deepEqual(contents, ['first', 'second', 'third']);
});

test('a subscriber receives a change pushed after it subscribed, its origin never does', async () => {
  await freshHub();
  const alice = client();
  const bob = client();
  const collective = await team(alice);
  bob.cursor = (await bob.handshake()).head_sequence; // only what comes next
  const aliceSub = await alice.subscribe({ heartbeatMs: 100, timeoutMs: DEADLINE_MS });
  const bobSub = await bob.subscribe({ heartbeatMs: 100, timeoutMs: DEADLINE_MS });
  try {
    const bobEvents = bobSub.events();
    const aliceEvents = aliceSub.events();
    await bobEvents.next(); // the hub's first event: the stream is open
    await aliceEvents.next();

    const lesson = experienceChange(collective, 'pushed while subscribed');
    await alice.push([lesson]);
    let arrived = null;
    const deadline = Date.now() + DEADLINE_MS;
    while (!arrived) { // heartbeats hand control back at least every 100 ms
      assert.ok(Date.now() < deadline, 'no change arrived');
      const { value, done } = await bobEvents.next();
      assert.ok(!done, 'the stream ended');
      [arrived] = value.changes;
    }
    assert.ok(arrived.source_instance.equals(alice.instanceId));
    assert.equal(arrived.sequence, lesson.sequence);
    assert.equal(createdExperience(arrived).content, 'pushed while subscribed');

    // Alice's own stream moves past her change without ever carrying it.
    while (alice.cursor < arrived.log_sequence) {
      assert.ok(Date.now() < deadline, "alice's stream never moved on");
      const { value } = await aliceEvents.next();
      assert.deepEqual(value.changes, []);
    }
  } finally {
    aliceSub.cancel();
    bobSub.cancel();
  }
});

test('cancel ends the iteration quietly', async () => {
  await freshHub();
  const subscription = await client().subscribe({ heartbeatMs: 100, timeoutMs: DEADLINE_MS });
  const events = subscription.events();
  await events.next();
  subscription.cancel();
  assert.deepEqual(await collect({ [Symbol.asyncIterator]: () => events }), []);
});

test('the token is sent on every call', async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'tokens-'));
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `${TOKEN} read=* write=*\n`);
  hub = await startHub(process.env.PULSE_HUB_BINARY, path.join(dir, 'hub'), [...HUB_FLAGS, `--auth_tokens=${tokens}`]);
  const alice = client({ token: TOKEN });
  const bob = client({ token: TOKEN });
  await team(alice);
  assert.equal((await collect(bob.pull())).length, 1);
  await assert.rejects(client().handshake(), (error) => error.code === grpc.status.UNAUTHENTICATED);
});
