#include "client/status_mapping.h"

#include <string>

#include "absl/strings/cord.h"
#include "client/sync_error.h"
#include "common/status_payloads.h"

namespace pulse::client {

absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext* context) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (context != nullptr) {
    const auto& trailers = context->GetServerTrailingMetadata();
    for (const StatusPayload& payload : KnownStatusPayloads()) {
      auto it = trailers.find(payload.trailer);
      if (it != trailers.end()) {
        out.SetPayload(payload.type_url,
                       absl::Cord(std::string(it->second.data(), it->second.size())));
      }
    }
  }
  SyncErrorKind kind = SyncErrorKind::kTransport;
  switch (status.error_code()) {
    case grpc::StatusCode::FAILED_PRECONDITION:
      if (PeerChangedResponderOf(out).has_value()) {
        kind = SyncErrorKind::kPeerChanged;
      } else if (OldestRetainedOf(out).has_value()) {
        kind = SyncErrorKind::kCursorNotFound;
      }
      break;
    case grpc::StatusCode::UNAVAILABLE:
      kind = SyncErrorKind::kConnectionLost;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      kind = SyncErrorKind::kTimeout;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      kind = SyncErrorKind::kInvalidPayload;
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (ChangeTooLargeOf(out).has_value()) kind = SyncErrorKind::kChangeTooLarge;
      break;
    case grpc::StatusCode::CANCELLED:
      kind = SyncErrorKind::kShutdown;
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      kind = SyncErrorKind::kHandshake;
      break;
    default:
      break;
  }
  return WithSyncErrorKind(std::move(out), kind);
}

}  // namespace pulse::client
