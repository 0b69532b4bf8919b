#include "client/sync_error.h"

#include <string>

#include "absl/strings/cord.h"

namespace pulse::client {
namespace {

constexpr char kKindPayload[] = "pulsedb.sync.v1/sync-error";

constexpr SyncErrorKind kAll[] = {
    SyncErrorKind::kTransport,      SyncErrorKind::kHandshake,
    SyncErrorKind::kSerialization,  SyncErrorKind::kTimeout,
    SyncErrorKind::kConnectionLost, SyncErrorKind::kProtocolVersion,
    SyncErrorKind::kInvalidPayload, SyncErrorKind::kCursorNotFound,
    SyncErrorKind::kShutdown,       SyncErrorKind::kPeerChanged,
    SyncErrorKind::kChangeTooLarge, SyncErrorKind::kCatchUpIncomplete,
};

}  // namespace

absl::string_view SyncErrorKindName(SyncErrorKind kind) {
  switch (kind) {
    case SyncErrorKind::kTransport:
      return "Transport";
    case SyncErrorKind::kHandshake:
      return "Handshake";
    case SyncErrorKind::kSerialization:
      return "Serialization";
    case SyncErrorKind::kTimeout:
      return "Timeout";
    case SyncErrorKind::kConnectionLost:
      return "ConnectionLost";
    case SyncErrorKind::kProtocolVersion:
      return "ProtocolVersion";
    case SyncErrorKind::kInvalidPayload:
      return "InvalidPayload";
    case SyncErrorKind::kCursorNotFound:
      return "CursorNotFound";
    case SyncErrorKind::kShutdown:
      return "Shutdown";
    case SyncErrorKind::kPeerChanged:
      return "PeerChanged";
    case SyncErrorKind::kChangeTooLarge:
      return "ChangeTooLarge";
    case SyncErrorKind::kCatchUpIncomplete:
      return "CatchUpIncomplete";
  }
  return "Unknown";
}

absl::Status MakeSyncError(SyncErrorKind kind, absl::StatusCode code, absl::string_view message) {
  return WithSyncErrorKind(absl::Status(code, message), kind);
}

absl::Status WithSyncErrorKind(absl::Status status, SyncErrorKind kind) {
  if (status.ok()) return status;
  status.SetPayload(kKindPayload, absl::Cord(SyncErrorKindName(kind)));
  return status;
}

std::optional<SyncErrorKind> SyncErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kKindPayload);
  if (!payload.has_value()) return std::nullopt;
  const std::string name(*payload);
  for (SyncErrorKind kind : kAll) {
    if (SyncErrorKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

bool IsTerminal(const absl::Status& status) {
  std::optional<SyncErrorKind> kind = SyncErrorOf(status);
  if (!kind.has_value()) return false;
  switch (*kind) {
    case SyncErrorKind::kHandshake:
    case SyncErrorKind::kProtocolVersion:
    case SyncErrorKind::kChangeTooLarge:
    case SyncErrorKind::kInvalidPayload:
    case SyncErrorKind::kSerialization:
      return true;
    default:
      return false;
  }
}

}  // namespace pulse::client
