#!/usr/bin/env node
'use strict';
// An agent that shares experiences through a PulseSync hub: the Node twin of
// client/python/examples/agent.py, with the same flags and the same JSON lines.
//
// It joins a collective (creating it with --create, or waiting until another peer's
// creation arrives), records each --record text as an experience there, and prints every
// other peer's change as it arrives, one JSON object per line. It runs until SIGINT
// (Ctrl-C) or SIGTERM, then prints a summary line of what it pushed and received. With
// --expect N it also prints {"event":"converged"} once N changes of others arrived.
//
//   node client/node/examples/agent.js --hub 127.0.0.1:7070 --collective team \
//       --record "prefer small commits"
const { parseArgs } = require('util');
const {
  HubClient, collectiveChange, experienceChange, createdCollective, createdExperience,
  payloadKind, idText,
} = require('..');

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function describe(change) {
  const experience = createdExperience(change);
  const collective = createdCollective(change);
  return {
    origin: idText(change.source_instance),
    sequence: change.sequence,
    kind: payloadKind(change),
    text: experience ? experience.content : collective ? collective.name : '',
  };
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      hub: { type: 'string', default: '127.0.0.1:7070' },
      token: { type: 'string' },
      collective: { type: 'string' },
      create: { type: 'boolean', default: false },
      dimension: { type: 'string', default: '4' },
      record: { type: 'string', multiple: true, default: [] },
      name: { type: 'string', default: 'node-agent' },
      expect: { type: 'string', default: '0' },
    },
  });
  if (!args.collective) throw new Error('--collective is required');
  const expect = Number(args.expect);

  const client = new HubClient(args.hub, { token: args.token });
  await client.handshake();
  emit('ready', { agent: args.name, instance: idText(client.instanceId) });
  const pushed = [];
  const received = [];
  let collective = null;
  if (args.create) {
    const change = collectiveChange(args.collective, Number(args.dimension));
    await client.push([change]);
    pushed.push(describe(change));
    collective = createdCollective(change);
  }

  const subscription = await client.subscribe({ heartbeatMs: 200 });
  // A signal ends the stream; the loop below then finishes and prints the summary.
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => subscription.cancel());
  let recorded = false;
  let converged = false;
  try {
    for await (const event of subscription.events()) {
      for (const change of event.changes) {
        received.push(describe(change));
        emit('received', received[received.length - 1]);
        const found = createdCollective(change);
        if (!collective && found && found.name === args.collective) collective = found;
      }
      if (collective && !recorded) {
        const records = args.record.map((text) => experienceChange(collective, text, { sourceAgent: args.name }));
        await client.push(records);
        for (const change of records) {
          pushed.push(describe(change));
          emit('recorded', pushed[pushed.length - 1]);
        }
        recorded = true;
      }
      if (expect && received.length >= expect && !converged) {
        emit('converged', { received: received.length });
        converged = true;
      }
    }
  } catch (error) { // the hub went away, refused a call, ...
    emit('error', { code: error.code, details: error.details || error.message });
    return 1;
  } finally {
    client.close();
  }
  emit('summary', { instance: idText(client.instanceId), pushed, received });
  return 0;
}

main().then((code) => { process.exitCode = code; }, (error) => {
  console.error(error.message);
  process.exitCode = 2;
});
