'use strict';
// What the client throws beyond gRPC's own errors. Failed calls reject with the grpc-js
// error (err.code is a grpc.status: UNAVAILABLE, FAILED_PRECONDITION "unknown peer",
// INVALID_ARGUMENT, ...): the hub's status codes are the API. These cover what arrives
// inside a successful reply.

class PulseSyncError extends Error {}

// The hub answered the handshake with accepted=false (e.g. a protocol mismatch).
class HandshakeRefused extends PulseSyncError {}

// The hub applied a push only up to a change it could not apply. Everything below
// `sequence` is durable at the hub (`acknowledged` is its cursor for this instance); that
// change and the ones after it were not applied and were given back their unnumbered
// state: once the cause is fixed, push them again.
class PushRejected extends PulseSyncError {
  constructor(sequence, reason, acknowledged) {
    super(`change ${sequence} rejected: ${reason}`);
    this.sequence = sequence;
    this.reason = reason;
    this.acknowledged = acknowledged;
  }
}

module.exports = { PulseSyncError, HandshakeRefused, PushRejected };
