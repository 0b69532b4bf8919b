#include "common/status_payloads.h"

#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pulse {
namespace {

constexpr char kOldestRetained[] = "pulsedb.sync.v1/oldest-retained";
constexpr char kResponder[] = "pulsedb.sync.v1/responder";
constexpr char kChangeTooLarge[] = "pulsedb.sync.v1/change-too-large";

std::optional<std::string> Payload(const absl::Status& status, absl::string_view key) {
  auto payload = status.GetPayload(key);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace

const std::vector<StatusPayload>& KnownStatusPayloads() {
  static const auto* known = new std::vector<StatusPayload>{
      {kOldestRetained, "pulsedb-oldest-retained", false},
      {kResponder, "pulsedb-responder-bin", true},
      {kChangeTooLarge, "pulsedb-change-too-large", false},
  };
  return *known;
}

absl::Status CursorCompactedError(uint64_t cursor, uint64_t oldest_retained) {
  absl::Status status = absl::FailedPreconditionError(absl::StrCat(
      "cursor ", cursor, " is older than the retained log: the oldest retained sequence is ",
      oldest_retained, "; catch up with Snapshot"));
  status.SetPayload(kOldestRetained, absl::Cord(absl::StrCat(oldest_retained)));
  return status;
}

std::optional<uint64_t> OldestRetainedOf(const absl::Status& status) {
  std::optional<std::string> raw = Payload(status, kOldestRetained);
  uint64_t value = 0;
  if (!raw.has_value() || !absl::SimpleAtoi(*raw, &value)) return std::nullopt;
  return value;
}

absl::Status PeerChangedError(absl::string_view responder_id, absl::string_view expected_id) {
  absl::Status status = absl::FailedPreconditionError(absl::StrCat(
      "peer changed: this is instance ", absl::BytesToHexString(responder_id),
      ", the request was addressed to ", absl::BytesToHexString(expected_id), "; handshake again"));
  status.SetPayload(kResponder, absl::Cord(std::string(responder_id)));
  return status;
}

std::optional<std::string> PeerChangedResponderOf(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kFailedPrecondition) return std::nullopt;
  return Payload(status, kResponder);
}

absl::Status ChangeTooLargeError(uint64_t sequence, uint64_t needed, uint64_t cap) {
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat("change ", sequence, " needs ", needed, " bytes, more than the cap of ", cap,
                   " bytes: it can never be sent"));
  status.SetPayload(kChangeTooLarge, absl::Cord(absl::StrCat(sequence, ",", needed, ",", cap)));
  return status;
}

std::optional<ChangeTooLarge> ChangeTooLargeOf(const absl::Status& status) {
  std::optional<std::string> raw = Payload(status, kChangeTooLarge);
  if (!raw.has_value()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(*raw, ',');
  ChangeTooLarge out;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &out.sequence) ||
      !absl::SimpleAtoi(parts[1], &out.needed) || !absl::SimpleAtoi(parts[2], &out.cap)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace pulse
