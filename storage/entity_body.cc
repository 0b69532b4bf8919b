#include "storage/entity_body.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/entity_rules.h"
#include "storage/ids.h"

namespace pulse::storage {

namespace pb = pulsedb::sync::v1;

absl::Status FillBodyFromChange(absl::string_view id, pb::SyncChange& change,
                                pb::VersionedEntity* entity) {
  const uint64_t sequence = entity->body_log_sequence();
  if (change.log_sequence() != sequence || !change.payload().has_experience_created() ||
      change.payload().experience_created().id() != id) {
    return absl::DataLossError(absl::StrCat("log entry ", sequence,
                                            " is not the create of experience ", IdToText(id),
                                            " that its row refers to"));
  }
  entity->mutable_experience()->Swap(change.mutable_payload()->mutable_experience_created());
  // What the create stored when it still copied the body (change_applier.cc).
  NormalizeReinforcement(entity->mutable_experience());
  entity->clear_body_log_sequence();
  return absl::OkStatus();
}

absl::Status FillBodyFromLogEntry(absl::string_view id, absl::string_view entry,
                                  pb::VersionedEntity* entity) {
  pb::SyncChange change;
  if (!change.ParseFromArray(entry.data(), static_cast<int>(entry.size()))) {
    return absl::DataLossError(absl::StrCat("corrupt log entry ", entity->body_log_sequence(),
                                            " (body of experience ", IdToText(id), ")"));
  }
  return FillBodyFromChange(id, change, entity);
}

absl::Status MissingBodyError(absl::string_view id, uint64_t log_sequence) {
  return absl::DataLossError(absl::StrCat("experience ", IdToText(id), " refers to log entry ",
                                          log_sequence, ", which is gone"));
}

}  // namespace pulse::storage
