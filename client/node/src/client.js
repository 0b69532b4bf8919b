'use strict';
// HubClient: one peer's connection to a PulseSync hub (pulsedb.sync.v1), over
// @grpc/grpc-js. A thin wrapper that keeps the per-peer state the protocol asks every
// peer to keep:
// - its instance id (16 bytes), sent as source_instance on every call;
// - the next sequence of its own changes: push() numbers them strictly ascending from 1
//   and never reuses a number. A push that failed in transit (outcome unknown) can be
//   retried with the same change objects, which keep their numbers: the hub acknowledges
//   what already landed as duplicates instead of applying it twice. Retry before pushing
//   anything newer: the hub takes any number at or below the highest it applied for a
//   replay;
// - its pull cursor, a position in the hub's log: pull() and subscribe() follow it.
//
// It persists nothing. A peer that comes back with the same instanceId must not reuse
// sequences the hub already acknowledged (they would be taken for replays and dropped):
// pass nextSequence, or let handshake() ask the hub (SyncAdmin.Status, which needs an
// admin token when the hub checks tokens). The cursor starts at 0 (the whole log) unless
// given. Calls reject with grpc-js errors: the hub's status codes are the API.
const grpc = require('@grpc/grpc-js');
const { loadProtocol } = require('./proto');
const { HandshakeRefused, PulseSyncError, PushRejected } = require('./errors');
const { ID_SIZE, newId } = require('./ids');
const { Subscription } = require('./subscription');

const PROTOCOL_VERSION = 1;
const MAX_MESSAGE_BYTES = 64 << 20;
const DEFAULT_BATCH = 1000; // the hub's default limit, until its handshake says otherwise

class HubClient {
  constructor(target, {
    instanceId, token, nextSequence, cursor = 0, timeoutMs = 30000, protoDir,
  } = {}) {
    if (instanceId && instanceId.length !== ID_SIZE) {
      throw new RangeError(`instanceId must be ${ID_SIZE} raw bytes`);
    }
    this.instanceId = instanceId ? Buffer.from(instanceId) : newId();
    // A reused identity must continue after what the hub already has.
    this._askHubForSequence = Boolean(instanceId) && !nextSequence;
    this.nextSequence = nextSequence || 1;
    this.cursor = cursor;
    this.hubId = null;
    this.limits = null;
    this._hubCapabilities = new Set();
    this._timeoutMs = timeoutMs;
    this._metadata = new grpc.Metadata();
    if (token) this._metadata.set('authorization', `Bearer ${token}`);
    const protocol = loadProtocol(protoDir);
    const channelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    };
    const credentials = grpc.credentials.createInsecure();
    this._sync = new protocol.SyncService(target, credentials, channelOptions);
    this._admin = new protocol.SyncAdmin(target, credentials, channelOptions);
  }

  // Introduces this peer; every other call needs it first (the hub answers
  // FAILED_PRECONDITION "unknown peer" otherwise). The other methods call it on first use.
  async handshake(capabilities = ['push', 'pull', 'subscribe']) {
    const response = await this._unary(this._sync, 'Handshake', {
      instance_id: this.instanceId,
      protocol_version: PROTOCOL_VERSION,
      capabilities,
    });
    if (!response.accepted) throw new HandshakeRefused(response.reason || 'handshake not accepted');
    this.hubId = response.instance_id;
    this.limits = response.limits;
    this._hubCapabilities = new Set(response.capabilities);
    if (this._askHubForSequence) {
      this.nextSequence = Math.max(this.nextSequence, (await this.acknowledgedSequence()) + 1);
      this._askHubForSequence = false;
    }
    return response;
  }

  // The highest sequence of this instance's changes the hub has applied (0 when none).
  async acknowledgedSequence() {
    const status = await this._unary(this._admin, 'Status', {});
    const me = status.peers.find((peer) => this.instanceId.equals(peer.instance_id));
    return me ? me.acknowledged_sequence : 0;
  }

  // Pushes this instance's own changes, in order, in batches within the hub's limit.
  // Changes without a sequence get the next ones (in place, with source_instance set); a
  // change that has one (a retry) keeps it. Resolves to {accepted, duplicates, conflicts,
  // acknowledged}; rejects with PushRejected when the hub stops at a change it cannot
  // apply (everything before it is durable; it and the rest lose their numbers). More
  // than one batch goes on one PushStream call when the hub offers it (the hub applies a
  // batch while it reads the next), else one Push call per batch.
  async push(changes) {
    const list = Array.from(changes);
    this._number(list);
    const result = { accepted: 0, duplicates: 0, conflicts: 0, acknowledged: 0 };
    if (list.length === 0) return result;
    await this._ensureHandshake();
    const batch = (this.limits && this.limits.max_batch_size) || DEFAULT_BATCH;
    const requests = [];
    for (let start = 0; start < list.length; start += batch) {
      requests.push({
        changes: list.slice(start, start + batch),
        source_instance: this.instanceId,
        target_instance: this.hubId,
      });
    }
    const streamed = requests.length > 1 && this._hubCapabilities.has('push_stream');
    const streamedResponses = streamed ? await this._pushStream(requests) : null;
    for (let i = 0; i < requests.length; i++) {
      const start = i * batch;
      const slice = requests[i].changes;
      if (streamed && i >= streamedResponses.length) {
        throw new PulseSyncError(`push stream ended after ${streamedResponses.length} of ` +
          `${requests.length} batches were answered`);
      }
      const response = streamed ? streamedResponses[i]
        : await this._unary(this._sync, 'Push', requests[i]);
      result.accepted += response.accepted;
      result.duplicates += response.duplicates;
      result.conflicts += response.conflicts;
      result.acknowledged = response.new_cursor ? response.new_cursor.last_sequence : 0;
      if (response.rejected) {
        for (const change of list.slice(start + slice.length - response.rejected)) {
          change.sequence = 0;
          delete change.source_instance;
        }
        throw new PushRejected(response.first_failure.sequence, response.first_failure.reason,
          result.acknowledged);
      }
    }
    return result;
  }

  _number(changes) {
    // Plan first, so a batch that is out of order changes nothing.
    const planned = [];
    let next = this.nextSequence;
    let previous = 0;
    for (const change of changes) {
      if (change.source_instance && change.source_instance.length &&
          !this.instanceId.equals(change.source_instance)) {
        throw new RangeError(`change ${change.sequence} comes from another instance: ` +
          'a push carries only this peer\'s own changes');
      }
      const sequence = change.sequence || next;
      if (sequence <= previous) {
        throw new RangeError(`sequences must be strictly ascending: ${sequence} after ${previous}`);
      }
      next = Math.max(next, sequence + 1);
      planned.push(sequence);
      previous = sequence;
    }
    changes.forEach((change, i) => {
      change.sequence = planned[i];
      change.source_instance = this.instanceId;
    });
    this.nextSequence = next;
  }

  // Yields every other peer's changes after the cursor, page by page until the hub has
  // nothing more. The cursor passes a page once the reader asks for what follows it.
  async *pull({ batchSize = 0, collectives = [], entityTypes = [] } = {}) {
    await this._ensureHandshake();
    for (;;) {
      const page = await this._unary(this._sync, 'Pull', {
        cursor: this._cursorMessage(),
        batch_size: batchSize,
        collectives,
        entity_types: entityTypes,
        source_instance: this.instanceId,
        target_instance: this.hubId,
      });
      yield* page.changes;
      const moved = this._advanceCursor(page.new_cursor ? page.new_cursor.last_sequence : 0);
      if (!page.has_more) return;
      if (!moved) throw new PulseSyncError('the hub reports more changes but its cursor did not move');
    }
  }

  // Opens a Subscribe stream from the cursor: other peers' changes as they commit.
  // heartbeatMs asks for an empty event that often when idle (0 = the hub's default);
  // timeoutMs bounds the whole stream (default: open until cancelled).
  async subscribe({ heartbeatMs = 0, collectives = [], entityTypes = [], timeoutMs } = {}) {
    await this._ensureHandshake();
    const options = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    const call = this._sync.Subscribe({
      cursor: this._cursorMessage(),
      collectives,
      entity_types: entityTypes,
      source_instance: this.instanceId,
      target_instance: this.hubId,
      heartbeat_interval_ms: heartbeatMs,
    }, this._metadata, options);
    return new Subscription(this, call);
  }

  close() {
    this._sync.close();
    this._admin.close();
  }

  async _ensureHandshake() {
    if (!this.hubId) await this.handshake();
  }

  _cursorMessage() {
    return { instance_id: this.hubId, last_sequence: this.cursor };
  }

  _advanceCursor(position) {
    if (!(position > this.cursor)) return false;
    this.cursor = position;
    return true;
  }

  // Sends `requests` on one PushStream call; resolves to the responses, in order. A
  // batch not accepted whole ends the stream (ABORTED, after its response): the
  // responses up to it are then what it resolves to.
  _pushStream(requests) {
    return new Promise((resolve, reject) => {
      const responses = [];
      const call = this._sync.PushStream(this._metadata,
        { deadline: Date.now() + this._timeoutMs });
      call.on('data', (response) => responses.push(response));
      call.on('error', (error) => {
        const last = responses[responses.length - 1];
        if (error.code === grpc.status.ABORTED && last && last.rejected) resolve(responses);
        else reject(error);
      });
      call.on('end', () => resolve(responses));
      for (const request of requests) call.write(request);
      call.end();
    });
  }

  _unary(stub, method, request) {
    return new Promise((resolve, reject) => {
      stub[method](request, this._metadata, { deadline: Date.now() + this._timeoutMs },
        (error, response) => (error ? reject(error) : resolve(response)));
    });
  }
}

module.exports = { HubClient, PROTOCOL_VERSION };
