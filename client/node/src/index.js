'use strict';
// @pulsesync/client: a Node.js client for the PulseSync hub (pulsedb.sync.v1 over gRPC).
//   const { HubClient, collectiveChange, experienceChange } = require('@pulsesync/client');
const { HubClient, PROTOCOL_VERSION } = require('./client');
const { Subscription } = require('./subscription');
const changes = require('./changes');
const errors = require('./errors');
const ids = require('./ids');
const { loadProtocol } = require('./proto');

module.exports = {
  HubClient, Subscription, PROTOCOL_VERSION, loadProtocol, ...changes, ...errors, ...ids,
};
