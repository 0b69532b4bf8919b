'use strict';
// Subscription: one live Subscribe stream of a HubClient. `for await (const change of
// subscription)` yields the changes other peers make, catch-up first, then live as they
// commit; events() yields the raw SubscribeEvents, heartbeats included, for a reader that
// wants control back regularly. Either advances the client's pull cursor past an event
// once the reader asks for what follows it, so a later pull() or subscribe() resumes
// there: delivery is at least once, and exactly once when the reader keeps going.
// cancel() ends the iteration quietly.
const grpc = require('@grpc/grpc-js');

class Subscription {
  constructor(client, call) {
    this._client = client;
    this._call = call;
    this._cancelled = false;
  }

  async *events() {
    try {
      for await (const event of this._call) {
        yield event;
        this._client._advanceCursor(event.cursor ? event.cursor.last_sequence : 0);
      }
    } catch (error) {
      if (this._cancelled && error.code === grpc.status.CANCELLED) return;
      throw error;
    }
  }

  async *[Symbol.asyncIterator]() {
    for await (const event of this.events()) yield* event.changes;
  }

  cancel() {
    this._cancelled = true;
    this._call.cancel();
  }
}

module.exports = { Subscription };
