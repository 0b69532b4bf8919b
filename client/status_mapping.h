// The one place a peer turns grpc::Status into absl::Status: the code and message are
// kept, the hub's typed trailers (common/status_payloads.h) become payloads again, and a
// SyncErrorKind is attached. Thread-safe.
#ifndef PULSESYNC_CLIENT_STATUS_MAPPING_H_
#define PULSESYNC_CLIENT_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace pulse::client {

// `context` (may be null) supplies the trailing metadata.
absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext* context);

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_STATUS_MAPPING_H_
