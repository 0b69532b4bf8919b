// Structural validation of entities and changes, before anything touches the store:
// ids of 16 bytes, a payload whose kind agrees with entity_type, enum values the
// protocol knows, finite numbers, bounded G-counters. Stateless and thread-safe; checks
// that need the store (an embedding's length against its collective) live in Store.
// Every error is INVALID_ARGUMENT and names the field.
#ifndef PULSESYNC_STORAGE_VALIDATION_H_
#define PULSESYNC_STORAGE_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

// Most buckets an experience's applications G-counter may hold (the original's bound).
inline constexpr std::size_t kMaxReinforcementBuckets = 65536;
// Embeddings are at most u16 long, as the original's embedding_dimension.
inline constexpr std::size_t kMaxEmbeddingDimension = 65535;

absl::Status ValidateCollective(const pulsedb::sync::v1::Collective& collective);
absl::Status ValidateExperience(const pulsedb::sync::v1::Experience& experience);
absl::Status ValidateExperienceUpdate(const pulsedb::sync::v1::ExperienceUpdate& update);
absl::Status ValidateRelation(const pulsedb::sync::v1::Relation& relation);
absl::Status ValidateInsight(const pulsedb::sync::v1::Insight& insight);

// The entity type a payload kind belongs to; false when no payload is set.
bool EntityTypeOfPayload(const pulsedb::sync::v1::SyncPayload& payload,
                         pulsedb::sync::v1::SyncEntityType* type);

// The id of the entity a payload touches (empty when no payload is set).
const std::string& PayloadEntityId(const pulsedb::sync::v1::SyncPayload& payload);

// The same for a VersionedEntity: the type of the entity it holds (false when it holds
// none), and its id (empty then).
bool EntityTypeOfVersioned(const pulsedb::sync::v1::VersionedEntity& entity,
                           pulsedb::sync::v1::SyncEntityType* type);
const std::string& VersionedEntityId(const pulsedb::sync::v1::VersionedEntity& entity);

// A whole change: origin and collective ids, sequence > 0, payload set and consistent with
// entity_type and collective_id, and the entity inside it valid. Errors are prefixed with
// "change <sequence>: ".
absl::Status ValidateChange(const pulsedb::sync::v1::SyncChange& change);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_VALIDATION_H_
