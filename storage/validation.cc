#include "storage/validation.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "storage/ids.h"

namespace pulse::storage {
namespace {

using pulsedb::sync::v1::Collective;
using pulsedb::sync::v1::Experience;
using pulsedb::sync::v1::ExperienceType;
using pulsedb::sync::v1::ExperienceUpdate;
using pulsedb::sync::v1::Insight;
using pulsedb::sync::v1::ReinforcementBucket;
using pulsedb::sync::v1::Relation;
using pulsedb::sync::v1::SyncChange;
using pulsedb::sync::v1::SyncEntityType;
using pulsedb::sync::v1::SyncPayload;
using pulsedb::sync::v1::VersionedEntity;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckFinite(float value, absl::string_view field) {
  if (std::isfinite(value)) return absl::OkStatus();
  return Invalid(field, "must be a finite number");
}

absl::Status CheckTimestamp(int64_t millis, absl::string_view field) {
  if (millis >= 0) return absl::OkStatus();
  return Invalid(field, absl::StrCat("negative timestamp ", millis));
}

absl::Status CheckEmbedding(const google::protobuf::RepeatedField<float>& embedding,
                            absl::string_view field) {
  if (embedding.size() > static_cast<int>(kMaxEmbeddingDimension)) {
    return Invalid(field,
                   absl::StrCat(embedding.size(), " values, more than ", kMaxEmbeddingDimension));
  }
  // A float is infinite or NaN when its exponent bits are all ones; adding one to the
  // exponent then carries into the sign bit. One pass without an early exit over every
  // pushed 384-value embedding, in blocks of 16 (a fixed trip count, which GCC's -O2
  // vectorizes); the index is looked for only when there is a bad value.
  constexpr uint32_t kExponent = 0x7f800000;
  constexpr uint32_t kExponentOne = 0x00800000;
  constexpr int kBlock = 16;
  const float* values = embedding.data();
  const int size = embedding.size();
  uint32_t carries = 0;
  int i = 0;
  for (; i + kBlock <= size; i += kBlock) {
    uint32_t bits[kBlock];
    std::memcpy(bits, values + i, sizeof bits);
    for (int k = 0; k < kBlock; ++k) carries |= (bits[k] & kExponent) + kExponentOne;
  }
  for (; i < size; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    carries |= (bits & kExponent) + kExponentOne;
  }
  if ((carries & 0x80000000u) == 0) return absl::OkStatus();
  for (int i = 0; i < embedding.size(); ++i) {
    if (!std::isfinite(embedding[i])) {
      return Invalid(field, absl::StrCat("value ", i, " is not a finite number"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBuckets(const google::protobuf::RepeatedPtrField<ReinforcementBucket>& buckets,
                          absl::string_view field) {
  if (buckets.size() > static_cast<int>(kMaxReinforcementBuckets)) {
    return Invalid(field,
                   absl::StrCat(buckets.size(), " buckets, more than ", kMaxReinforcementBuckets));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const ReinforcementBucket& bucket : buckets) {
    if (absl::Status s = ValidateId(bucket.instance_id(), absl::StrCat(field, ".instance_id"));
        !s.ok()) {
      return s;
    }
    if (!seen.insert(bucket.instance_id()).second) {
      return Invalid(field,
                     absl::StrCat("bucket ", IdToText(bucket.instance_id()), " appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExperienceType(const ExperienceType& type) {
  switch (type.kind_case()) {
    case ExperienceType::KIND_NOT_SET:
      return Invalid("experience.experience_type", "no kind set");
    case ExperienceType::kDifficulty:
      if (!pulsedb::sync::v1::Severity_IsValid(type.difficulty().severity())) {
        return Invalid("experience.experience_type.difficulty.severity",
                       absl::StrCat("unknown value ", type.difficulty().severity()));
      }
      return absl::OkStatus();
    case ExperienceType::kSolution:
      if (type.solution().has_problem_ref()) {
        return ValidateId(type.solution().problem_ref(),
                          "experience.experience_type.solution.problem_ref");
      }
      return absl::OkStatus();
    case ExperienceType::kSuccessPattern:
      return CheckFinite(type.success_pattern().quality(),
                         "experience.experience_type.success_pattern.quality");
    case ExperienceType::kUserPreference:
      return CheckFinite(type.user_preference().strength(),
                         "experience.experience_type.user_preference.strength");
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::Status ValidateCollective(const Collective& collective) {
  if (absl::Status s = ValidateId(collective.id(), "collective.id"); !s.ok()) return s;
  if (collective.has_owner_id()) {
    if (absl::Status s = ValidateId(collective.owner_id(), "collective.owner_id"); !s.ok()) {
      return s;
    }
  }
  if (collective.embedding_dimension() == 0 ||
      collective.embedding_dimension() > kMaxEmbeddingDimension) {
    return Invalid(
        "collective.embedding_dimension",
        absl::StrCat(collective.embedding_dimension(), " is not in 1..", kMaxEmbeddingDimension));
  }
  if (absl::Status s = CheckTimestamp(collective.created_at(), "collective.created_at"); !s.ok()) {
    return s;
  }
  return CheckTimestamp(collective.updated_at(), "collective.updated_at");
}

absl::Status ValidateExperience(const Experience& e) {
  if (absl::Status s = ValidateId(e.id(), "experience.id"); !s.ok()) return s;
  if (absl::Status s = ValidateId(e.collective_id(), "experience.collective_id"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckEmbedding(e.embedding(), "experience.embedding"); !s.ok()) return s;
  if (absl::Status s = CheckExperienceType(e.experience_type()); !s.ok()) return s;
  if (absl::Status s = CheckFinite(e.importance(), "experience.importance"); !s.ok()) return s;
  if (absl::Status s = CheckFinite(e.confidence(), "experience.confidence"); !s.ok()) return s;
  if (absl::Status s = CheckBuckets(e.reinforcement(), "experience.reinforcement"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTimestamp(e.timestamp(), "experience.timestamp"); !s.ok()) return s;
  return CheckTimestamp(e.last_reinforced(), "experience.last_reinforced");
}

absl::Status ValidateExperienceUpdate(const ExperienceUpdate& u) {
  if (u.has_importance()) {
    if (absl::Status s = CheckFinite(u.importance(), "update.importance"); !s.ok()) return s;
  }
  if (u.has_confidence()) {
    if (absl::Status s = CheckFinite(u.confidence(), "update.confidence"); !s.ok()) return s;
  }
  if (absl::Status s = CheckBuckets(u.reinforcement(), "update.reinforcement"); !s.ok()) {
    return s;
  }
  if (u.has_last_reinforced()) {
    return CheckTimestamp(u.last_reinforced(), "update.last_reinforced");
  }
  return absl::OkStatus();
}

absl::Status ValidateRelation(const Relation& r) {
  if (absl::Status s = ValidateId(r.id(), "relation.id"); !s.ok()) return s;
  if (absl::Status s = ValidateId(r.source_id(), "relation.source_id"); !s.ok()) return s;
  if (absl::Status s = ValidateId(r.target_id(), "relation.target_id"); !s.ok()) return s;
  if (r.source_id() == r.target_id()) {
    return Invalid("relation.target_id", "a relation cannot point at its own source");
  }
  if (!pulsedb::sync::v1::RelationType_IsValid(r.relation_type())) {
    return Invalid("relation.relation_type", absl::StrCat("unknown value ", r.relation_type()));
  }
  if (absl::Status s = CheckFinite(r.strength(), "relation.strength"); !s.ok()) return s;
  return CheckTimestamp(r.created_at(), "relation.created_at");
}

absl::Status ValidateInsight(const Insight& i) {
  if (absl::Status s = ValidateId(i.id(), "insight.id"); !s.ok()) return s;
  if (absl::Status s = ValidateId(i.collective_id(), "insight.collective_id"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckEmbedding(i.embedding(), "insight.embedding"); !s.ok()) return s;
  for (const std::string& source : i.source_experience_ids()) {
    if (absl::Status s = ValidateId(source, "insight.source_experience_ids"); !s.ok()) return s;
  }
  if (!pulsedb::sync::v1::InsightType_IsValid(i.insight_type())) {
    return Invalid("insight.insight_type", absl::StrCat("unknown value ", i.insight_type()));
  }
  if (absl::Status s = CheckFinite(i.confidence(), "insight.confidence"); !s.ok()) return s;
  if (absl::Status s = CheckTimestamp(i.created_at(), "insight.created_at"); !s.ok()) return s;
  return CheckTimestamp(i.updated_at(), "insight.updated_at");
}

bool EntityTypeOfPayload(const SyncPayload& payload, SyncEntityType* type) {
  switch (payload.kind_case()) {
    case SyncPayload::kExperienceCreated:
    case SyncPayload::kExperienceUpdated:
    case SyncPayload::kExperienceArchived:
    case SyncPayload::kExperienceDeleted:
      *type = pulsedb::sync::v1::SYNC_ENTITY_TYPE_EXPERIENCE;
      return true;
    case SyncPayload::kRelationCreated:
    case SyncPayload::kRelationDeleted:
      *type = pulsedb::sync::v1::SYNC_ENTITY_TYPE_RELATION;
      return true;
    case SyncPayload::kInsightCreated:
    case SyncPayload::kInsightDeleted:
      *type = pulsedb::sync::v1::SYNC_ENTITY_TYPE_INSIGHT;
      return true;
    case SyncPayload::kCollectiveCreated:
      *type = pulsedb::sync::v1::SYNC_ENTITY_TYPE_COLLECTIVE;
      return true;
    case SyncPayload::KIND_NOT_SET:
      return false;
  }
  return false;
}

const std::string& PayloadEntityId(const SyncPayload& payload) {
  static const std::string* const kEmpty = new std::string();
  switch (payload.kind_case()) {
    case SyncPayload::kExperienceCreated:
      return payload.experience_created().id();
    case SyncPayload::kExperienceUpdated:
      return payload.experience_updated().id();
    case SyncPayload::kExperienceArchived:
      return payload.experience_archived().id();
    case SyncPayload::kExperienceDeleted:
      return payload.experience_deleted().id();
    case SyncPayload::kRelationCreated:
      return payload.relation_created().id();
    case SyncPayload::kRelationDeleted:
      return payload.relation_deleted().id();
    case SyncPayload::kInsightCreated:
      return payload.insight_created().id();
    case SyncPayload::kInsightDeleted:
      return payload.insight_deleted().id();
    case SyncPayload::kCollectiveCreated:
      return payload.collective_created().id();
    case SyncPayload::KIND_NOT_SET:
      break;
  }
  return *kEmpty;
}

bool EntityTypeOfVersioned(const VersionedEntity& entity, SyncEntityType* type) {
  switch (entity.entity_case()) {
    case VersionedEntity::kCollective:
      *type = SyncEntityType::SYNC_ENTITY_TYPE_COLLECTIVE;
      return true;
    case VersionedEntity::kExperience:
      *type = SyncEntityType::SYNC_ENTITY_TYPE_EXPERIENCE;
      return true;
    case VersionedEntity::kRelation:
      *type = SyncEntityType::SYNC_ENTITY_TYPE_RELATION;
      return true;
    case VersionedEntity::kInsight:
      *type = SyncEntityType::SYNC_ENTITY_TYPE_INSIGHT;
      return true;
    case VersionedEntity::ENTITY_NOT_SET:
      return false;
  }
  return false;
}

const std::string& VersionedEntityId(const VersionedEntity& entity) {
  static const std::string* const kEmpty = new std::string();
  switch (entity.entity_case()) {
    case VersionedEntity::kCollective:
      return entity.collective().id();
    case VersionedEntity::kExperience:
      return entity.experience().id();
    case VersionedEntity::kRelation:
      return entity.relation().id();
    case VersionedEntity::kInsight:
      return entity.insight().id();
    case VersionedEntity::ENTITY_NOT_SET:
      break;
  }
  return *kEmpty;
}

absl::Status ValidateChange(const SyncChange& change) {
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(
        absl::StrCat("change ", change.sequence(), ": ", s.message()));
  };
  if (change.sequence() == 0) return fail(Invalid("sequence", "must be greater than 0"));
  if (absl::Status s = ValidateId(change.source_instance(), "source_instance"); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = ValidateId(change.collective_id(), "collective_id"); !s.ok()) {
    return fail(s);
  }
  if (!pulsedb::sync::v1::SyncEntityType_IsValid(change.entity_type())) {
    return fail(Invalid("entity_type", absl::StrCat("unknown value ", change.entity_type())));
  }
  if (absl::Status s = CheckTimestamp(change.timestamp(), "timestamp"); !s.ok()) return fail(s);
  SyncEntityType payload_type;
  if (!EntityTypeOfPayload(change.payload(), &payload_type)) {
    return fail(Invalid("payload", "no payload set"));
  }
  if (payload_type != change.entity_type()) {
    return fail(Invalid("entity_type", absl::StrCat(SyncEntityType_Name(change.entity_type()),
                                                    " does not match a payload of type ",
                                                    SyncEntityType_Name(payload_type))));
  }
  const SyncPayload& p = change.payload();
  absl::Status s;
  switch (p.kind_case()) {
    case SyncPayload::kCollectiveCreated:
      s = ValidateCollective(p.collective_created());
      if (s.ok() && p.collective_created().id() != change.collective_id()) {
        s = Invalid("collective_id", "differs from the created collective's id");
      }
      break;
    case SyncPayload::kExperienceCreated:
      s = ValidateExperience(p.experience_created());
      if (s.ok() && p.experience_created().collective_id() != change.collective_id()) {
        s = Invalid("collective_id", "differs from the experience's collective_id");
      }
      break;
    case SyncPayload::kExperienceUpdated:
      s = ValidateId(p.experience_updated().id(), "experience_updated.id");
      if (s.ok()) s = ValidateExperienceUpdate(p.experience_updated().update());
      break;
    case SyncPayload::kExperienceArchived:
      s = ValidateId(p.experience_archived().id(), "experience_archived.id");
      break;
    case SyncPayload::kRelationCreated:
      s = ValidateRelation(p.relation_created());
      break;
    case SyncPayload::kInsightCreated:
      s = ValidateInsight(p.insight_created());
      if (s.ok() && p.insight_created().collective_id() != change.collective_id()) {
        s = Invalid("collective_id", "differs from the insight's collective_id");
      }
      break;
    case SyncPayload::kExperienceDeleted:
    case SyncPayload::kRelationDeleted:
    case SyncPayload::kInsightDeleted:
      s = ValidateId(PayloadEntityId(p), "deleted.id");
      break;
    case SyncPayload::KIND_NOT_SET:
      break;
  }
  if (!s.ok()) return fail(s);
  return absl::OkStatus();
}

}  // namespace pulse::storage
