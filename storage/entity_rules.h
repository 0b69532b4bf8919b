// The merge and conflict rules every replica applies the same way, so that all converge.
// Pure functions on protobuf values; thread-safe.
//
// - Plain fields of an experience (importance, confidence, domain, related_files,
//   archived, tags) follow the conflict rule: last-write-wins by (timestamp, origin id),
//   or the hub's order under SERVER_WINS.
// - The reinforcement G-counter and last_reinforced are CRDTs: merged (per-bucket max,
//   max) whatever the conflict rule says, so no increment is ever lost.
#ifndef PULSESYNC_STORAGE_ENTITY_RULES_H_
#define PULSESYNC_STORAGE_ENTITY_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

using ReinforcementBuckets =
    google::protobuf::RepeatedPtrField<pulsedb::sync::v1::ReinforcementBucket>;

// True when stamp a = (timestamp_a, origin_a) orders after b. Equal timestamps are
// ordered by origin id bytes, so every replica picks the same winner.
bool StampIsNewer(int64_t timestamp_a, absl::string_view origin_a, int64_t timestamp_b,
                  absl::string_view origin_b);

// Merges `from` into `into` by per-bucket maximum, keeping `into` sorted by instance id.
// Returns true when `into` changed.
bool MergeReinforcement(const ReinforcementBuckets& from, ReinforcementBuckets* into);

// Sum of all buckets, saturating at UINT32_MAX.
uint32_t ReinforcementTotal(const ReinforcementBuckets& buckets);

// Sorts buckets by instance id (the canonical order) and sets `applications` to their sum.
void NormalizeReinforcement(pulsedb::sync::v1::Experience* experience);

// Whether `update` sets any field governed by the conflict rule.
bool HasPlainFields(const pulsedb::sync::v1::ExperienceUpdate& update);

// Copies the plain fields `update` sets into `experience`.
void ApplyPlainFields(const pulsedb::sync::v1::ExperienceUpdate& update,
                      pulsedb::sync::v1::Experience* experience);

// Merges the CRDT fields of `update` into `experience`; true when anything changed.
bool MergeCrdtFields(const pulsedb::sync::v1::ExperienceUpdate& update,
                     pulsedb::sync::v1::Experience* experience);

// `update` without its plain fields.
pulsedb::sync::v1::ExperienceUpdate CrdtPart(const pulsedb::sync::v1::ExperienceUpdate& update);

// The plain fields, by name, in a fixed order.
const std::vector<std::string>& PlainFieldNames();
// The names of the plain fields `update` sets.
std::vector<std::string> PlainFieldsSet(const pulsedb::sync::v1::ExperienceUpdate& update);
// Copies one named plain field from `update` into `experience`.
void ApplyPlainField(absl::string_view field, const pulsedb::sync::v1::ExperienceUpdate& update,
                     pulsedb::sync::v1::Experience* experience);
// Copies one named plain field from one experience to another.
void CopyPlainField(absl::string_view field, const pulsedb::sync::v1::Experience& from,
                    pulsedb::sync::v1::Experience* to);
// `update` keeping only the named plain fields (and all its CRDT fields).
pulsedb::sync::v1::ExperienceUpdate KeepPlainFields(
    const pulsedb::sync::v1::ExperienceUpdate& update, const std::vector<std::string>& fields);

// The version and stamp of `field` in `entity` (its create's when no update set it).
pulsedb::sync::v1::FieldVersion FieldStamp(const pulsedb::sync::v1::VersionedEntity& entity,
                                           absl::string_view field);
void SetFieldStamp(const pulsedb::sync::v1::FieldVersion& stamp,
                   pulsedb::sync::v1::VersionedEntity* entity);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_ENTITY_RULES_H_
