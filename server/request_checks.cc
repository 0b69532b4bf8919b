#include "server/request_checks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_payloads.h"
#include "storage/ids.h"
#include "storage/validation.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

absl::Status CheckAddressing(const std::string& hub_id, const std::string& source,
                             const std::string& target, PeerRegistry& peers) {
  // First: a request meant for another hub changes nothing here, whatever else it holds.
  if (!target.empty() && target != hub_id) return PeerChangedError(hub_id, target);
  if (absl::Status s = storage::ValidateId(source, "source_instance"); !s.ok()) return s;
  if (source == hub_id) {
    return absl::InvalidArgumentError(
        "source_instance is this hub's own id: a copied store must be reminted");
  }
  return peers.CheckKnownAndTouch(source, absl::ToUnixMillis(absl::Now()));
}

absl::Status CheckHandshake(const std::string& hub_id, const pb::HandshakeRequest& request) {
  if (absl::Status s = storage::ValidateId(request.instance_id(), "instance_id"); !s.ok()) {
    return s;
  }
  if (request.instance_id() == hub_id) {
    return absl::InvalidArgumentError(
        "instance_id is this hub's own id: a copied store must be reminted");
  }
  if (request.capabilities_size() > kMaxCapabilities) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", kMaxCapabilities, " capabilities, got ", request.capabilities_size()));
  }
  for (const std::string& capability : request.capabilities()) {
    if (capability.size() > kMaxCapabilityBytes || capability.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a capability must be 1 to ", kMaxCapabilityBytes, " bytes, got ", capability.size()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPushBatch(const pb::PushRequest& request, const HubOptions& options) {
  if (request.changes().empty()) return absl::InvalidArgumentError("empty batch: nothing to push");
  if (static_cast<uint64_t>(request.changes_size()) > options.max_batch_size) {
    return absl::ResourceExhaustedError(absl::StrCat("batch of ", request.changes_size(),
                                                     " changes exceeds the limit of ",
                                                     options.max_batch_size));
  }
  uint64_t previous = 0;
  for (const pb::SyncChange& change : request.changes()) {
    if (absl::Status s = storage::ValidateChange(change); !s.ok()) return s;
    if (change.source_instance() != request.source_instance()) {
      return absl::InvalidArgumentError(absl::StrCat("change ", change.sequence(), ": comes from ",
                                                     storage::IdToText(change.source_instance()),
                                                     ", not from the sender ",
                                                     storage::IdToText(request.source_instance()),
                                                     " (a push carries the sender's own changes)"));
    }
    if (change.sequence() == previous) {
      return absl::InvalidArgumentError(
          absl::StrCat("change ", change.sequence(), ": sequence appears twice in the batch"));
    }
    if (change.sequence() < previous) {
      return absl::InvalidArgumentError(absl::StrCat(
          "change ", change.sequence(), ": sequences go backwards (after ", previous, ")"));
    }
    previous = change.sequence();
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReplyBudget(uint64_t requested, const HubOptions& options) {
  if (requested != 0 && requested < kMinMessageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_reply_bytes must be at least ", kMinMessageBytes, ", got ", requested));
  }
  return requested == 0 ? options.max_message_bytes
                        : std::min<uint64_t>(requested, options.max_message_bytes);
}

absl::StatusOr<Grant> CheckCaller(const grpc::ServerContextBase& context, HubContext& hub,
                                  const std::string& source, const std::string& target) {
  absl::StatusOr<Grant> grant = hub.authorizer().Authenticate(context);
  if (!grant.ok()) return grant.status();
  if (absl::Status s = CheckAddressing(hub.hub_id(), source, target, hub.peers()); !s.ok()) {
    return s;
  }
  if (absl::Status s = hub.limiter().AdmitRequest(source, absl::Now()); !s.ok()) return s;
  return grant;
}

absl::Status CheckPushWritable(const pb::PushRequest& request, const Grant& grant) {
  if (grant.write_all) return absl::OkStatus();
  for (const pb::SyncChange& change : request.changes()) {
    if (!grant.CanWrite(change.collective_id())) {
      return absl::PermissionDeniedError(absl::StrCat("change ", change.sequence(), ": ",
                                                      grant.name, " may not write collective ",
                                                      storage::IdToText(change.collective_id())));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::ScanRequest> BuildScan(const ReadRequest& request,
                                               const std::string& requester,
                                               const std::string& hub_id, const HubOptions& options,
                                               const Grant& grant) {
  storage::ScanRequest scan;
  if (request.cursor != nullptr) {
    if (!request.cursor->instance_id().empty() && request.cursor->instance_id() != hub_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cursor points into the log of ", storage::IdToText(request.cursor->instance_id()),
          ", not of this hub ", storage::IdToText(hub_id)));
    }
    scan.after = request.cursor->last_sequence();
  }
  scan.max_changes = request.batch_size == 0
                         ? options.max_batch_size
                         : std::min<uint32_t>(request.batch_size, options.max_batch_size);
  if (request.collectives != nullptr) {
    for (const std::string& id : *request.collectives) {
      if (absl::Status s = storage::ValidateId(id, "collectives"); !s.ok()) return s;
      scan.filter.collectives.push_back(id);
    }
  }
  if (request.entity_types != nullptr) {
    for (int type : *request.entity_types) {
      if (!pb::SyncEntityType_IsValid(type)) {
        return absl::InvalidArgumentError(absl::StrCat("entity_types: unknown value ", type));
      }
      scan.filter.entity_types.push_back(static_cast<pb::SyncEntityType>(type));
    }
  }
  absl::StatusOr<std::vector<std::string>> readable =
      ReadableCollectives(grant, scan.filter.collectives);
  if (!readable.ok()) return readable.status();
  scan.filter.collectives = std::move(*readable);
  absl::StatusOr<uint64_t> budget = ReplyBudget(request.max_reply_bytes, options);
  if (!budget.ok()) return budget.status();
  scan.max_bytes = *budget - kReplyEnvelopeBytes;
  scan.filter.exclude_origin = requester;
  // Bound the work of one page over a long run of filtered-out entries; the cursor still
  // says exactly how far the scan went.
  scan.max_examined = std::max<std::size_t>(10000, 20 * scan.max_changes);
  return scan;
}

std::string BoundedReason(std::string reason) {
  if (reason.size() > kMaxReasonBytes) reason.resize(kMaxReasonBytes);
  return reason;
}

}  // namespace pulse::server
