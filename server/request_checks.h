// Checks every request passes before it touches anything: addressing (the sender and
// the hub it believes it talks to), batch shape and limits, filters and reply budgets.
// Pure functions (the registry check aside); thread-safe. Errors:
// FAILED_PRECONDITION for "peer changed" and unknown peers, INVALID_ARGUMENT for
// malformed requests, RESOURCE_EXHAUSTED for requests over a limit.
#ifndef PULSESYNC_SERVER_REQUEST_CHECKS_H_
#define PULSESYNC_SERVER_REQUEST_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/authorizer.h"
#include "server/hub_context.h"
#include "server/hub_options.h"
#include "server/peer_registry.h"
#include "storage/change_log.h"

namespace pulse::server {

// Bytes a reply needs beyond its changes (cursor, head, responder, framing).
inline constexpr uint64_t kReplyEnvelopeBytes = 256;

// Sender valid and known, and the request addressed to this hub (or to nobody in
// particular: an empty target).
absl::Status CheckAddressing(const std::string& hub_id, const std::string& source,
                             const std::string& target, PeerRegistry& peers);

// Authentication first (UNAUTHENTICATED), then sender valid and known, the request
// addressed to this hub (or to nobody in particular: an empty target), and within the
// sender's request rate (RESOURCE_EXHAUSTED).
absl::StatusOr<Grant> CheckCaller(const grpc::ServerContextBase& context, HubContext& hub,
                                  const std::string& source, const std::string& target);

// A handshake's own shape: id, capabilities (at most 8, each at most 64 bytes).
absl::Status CheckHandshake(const std::string& hub_id,
                            const pulsedb::sync::v1::HandshakeRequest& request);

// A push's shape before anything is applied: not empty, within the batch limit, every
// change valid, from the sender, with strictly ascending sequences.
absl::Status CheckPushBatch(const pulsedb::sync::v1::PushRequest& request,
                            const HubOptions& options);

// What a Pull, Subscribe or Snapshot asks to read, checked and turned into a scan of
// this hub's log for `requester` (whose own changes are never returned).
struct ReadRequest {
  const pulsedb::sync::v1::SyncCursor* cursor = nullptr;  // may be null (Snapshot)
  uint32_t batch_size = 0;
  const google::protobuf::RepeatedPtrField<std::string>* collectives = nullptr;
  const google::protobuf::RepeatedField<int>* entity_types = nullptr;
  uint64_t max_reply_bytes = 0;
};
// Collectives are restricted to what `grant` may read (PERMISSION_DENIED when the
// request names one it may not).
absl::StatusOr<storage::ScanRequest> BuildScan(const ReadRequest& request,
                                               const std::string& requester,
                                               const std::string& hub_id, const HubOptions& options,
                                               const Grant& grant);

// Every change of a push must be in a collective `grant` may write.
absl::Status CheckPushWritable(const pulsedb::sync::v1::PushRequest& request, const Grant& grant);

// The reply budget: min(requested, hub limit), at least kMinMessageBytes.
absl::StatusOr<uint64_t> ReplyBudget(uint64_t requested, const HubOptions& options);

// ASCII, bounded copy of a reason for a handshake refusal.
std::string BoundedReason(std::string reason);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_REQUEST_CHECKS_H_
