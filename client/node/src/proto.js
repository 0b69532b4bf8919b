'use strict';
// Loads the hub's protocol straight from its .proto files with @grpc/proto-loader: no
// generated code to keep in sync. Field names stay snake_case as in the .proto (and in
// the Python and C++ clients); 64-bit integers arrive as Numbers (sequences stay far
// below 2^53); enums as their names; bytes as Buffers; `payload.kind` names the oneof
// member that is set.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// The repository's proto/ folder, seen from client/node/src.
const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');

const loaded = new Map();

// The pulsedb.sync.v1 package: service constructors (SyncService, SyncAdmin) and message
// types. protoDir: a folder holding pulsedb/sync/v1/sync.proto (default: PULSESYNC_PROTO_DIR,
// else the repository's proto/).
function loadProtocol(protoDir) {
  const dir = protoDir || process.env.PULSESYNC_PROTO_DIR || DEFAULT_PROTO_DIR;
  if (!loaded.has(dir)) {
    const definition = protoLoader.loadSync('pulsedb/sync/v1/sync.proto', {
      includeDirs: [dir],
      keepCase: true,
      longs: Number,
      enums: String,
      bytes: Buffer,
      defaults: true,
      oneofs: true,
    });
    loaded.set(dir, grpc.loadPackageDefinition(definition).pulsedb.sync.v1);
  }
  return loaded.get(dir);
}

module.exports = { loadProtocol, DEFAULT_PROTO_DIR };
