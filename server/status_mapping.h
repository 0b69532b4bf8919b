// The one place absl::Status becomes grpc::Status on the hub. Codes map one to one (they
// share numbering); the message is kept; typed payloads (common/status_payloads.h) become
// trailing metadata on `context`. Thread-safe for distinct contexts.
#ifndef PULSESYNC_SERVER_STATUS_MAPPING_H_
#define PULSESYNC_SERVER_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"

namespace pulse::server {

// `context` may be null (no trailers then). Call before the RPC's Finish.
grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_STATUS_MAPPING_H_
