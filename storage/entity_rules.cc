#include "storage/entity_rules.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

namespace pulse::storage {

using pulsedb::sync::v1::Experience;
using pulsedb::sync::v1::ExperienceUpdate;
using pulsedb::sync::v1::ReinforcementBucket;

bool StampIsNewer(int64_t timestamp_a, absl::string_view origin_a, int64_t timestamp_b,
                  absl::string_view origin_b) {
  if (timestamp_a != timestamp_b) return timestamp_a > timestamp_b;
  return origin_a > origin_b;
}

bool MergeReinforcement(const ReinforcementBuckets& from, ReinforcementBuckets* into) {
  std::map<std::string, uint32_t> merged;
  for (const ReinforcementBucket& b : *into) merged[b.instance_id()] = b.count();
  bool changed = false;
  for (const ReinforcementBucket& b : from) {
    auto [it, inserted] = merged.emplace(b.instance_id(), b.count());
    if (inserted) {
      changed = true;
    } else if (b.count() > it->second) {
      it->second = b.count();
      changed = true;
    }
  }
  // Rewrite in canonical order even when unchanged, so equal counters serialize equally.
  into->Clear();
  for (const auto& [id, count] : merged) {
    ReinforcementBucket* bucket = into->Add();
    bucket->set_instance_id(id);
    bucket->set_count(count);
  }
  return changed;
}

uint32_t ReinforcementTotal(const ReinforcementBuckets& buckets) {
  uint64_t total = 0;
  for (const ReinforcementBucket& b : buckets) total += b.count();
  return static_cast<uint32_t>(std::min<uint64_t>(total, std::numeric_limits<uint32_t>::max()));
}

void NormalizeReinforcement(Experience* experience) {
  ReinforcementBuckets sorted;
  MergeReinforcement(experience->reinforcement(), &sorted);
  experience->mutable_reinforcement()->Swap(&sorted);
  experience->set_applications(ReinforcementTotal(experience->reinforcement()));
}

bool HasPlainFields(const ExperienceUpdate& u) {
  return u.has_importance() || u.has_confidence() || u.has_domain() || u.has_related_files() ||
         u.has_archived() || u.has_tags();
}

void ApplyPlainFields(const ExperienceUpdate& u, Experience* e) {
  if (u.has_importance()) e->set_importance(u.importance());
  if (u.has_confidence()) e->set_confidence(u.confidence());
  if (u.has_domain()) *e->mutable_domain() = u.domain().values();
  if (u.has_related_files()) *e->mutable_related_files() = u.related_files().values();
  if (u.has_archived()) e->set_archived(u.archived());
  if (u.has_tags()) *e->mutable_tags() = u.tags().entries();
}

bool MergeCrdtFields(const ExperienceUpdate& u, Experience* e) {
  bool changed = MergeReinforcement(u.reinforcement(), e->mutable_reinforcement());
  e->set_applications(ReinforcementTotal(e->reinforcement()));
  if (u.has_last_reinforced() && u.last_reinforced() > e->last_reinforced()) {
    e->set_last_reinforced(u.last_reinforced());
    changed = true;
  }
  return changed;
}

const std::vector<std::string>& PlainFieldNames() {
  static const auto* names = new std::vector<std::string>{"importance",    "confidence", "domain",
                                                          "related_files", "archived",   "tags"};
  return *names;
}

std::vector<std::string> PlainFieldsSet(const ExperienceUpdate& u) {
  std::vector<std::string> fields;
  if (u.has_importance()) fields.push_back("importance");
  if (u.has_confidence()) fields.push_back("confidence");
  if (u.has_domain()) fields.push_back("domain");
  if (u.has_related_files()) fields.push_back("related_files");
  if (u.has_archived()) fields.push_back("archived");
  if (u.has_tags()) fields.push_back("tags");
  return fields;
}

void ApplyPlainField(absl::string_view field, const ExperienceUpdate& u, Experience* e) {
  if (field == "importance") e->set_importance(u.importance());
  if (field == "confidence") e->set_confidence(u.confidence());
  if (field == "domain") *e->mutable_domain() = u.domain().values();
  if (field == "related_files") *e->mutable_related_files() = u.related_files().values();
  if (field == "archived") e->set_archived(u.archived());
  if (field == "tags") *e->mutable_tags() = u.tags().entries();
}

void CopyPlainField(absl::string_view field, const Experience& from, Experience* to) {
  if (field == "importance") to->set_importance(from.importance());
  if (field == "confidence") to->set_confidence(from.confidence());
  if (field == "domain") *to->mutable_domain() = from.domain();
  if (field == "related_files") *to->mutable_related_files() = from.related_files();
  if (field == "archived") to->set_archived(from.archived());
  if (field == "tags") *to->mutable_tags() = from.tags();
}

ExperienceUpdate KeepPlainFields(const ExperienceUpdate& u,
                                 const std::vector<std::string>& fields) {
  ExperienceUpdate kept = CrdtPart(u);
  auto wanted = [&](const char* name) {
    return std::find(fields.begin(), fields.end(), name) != fields.end();
  };
  if (wanted("importance") && u.has_importance()) kept.set_importance(u.importance());
  if (wanted("confidence") && u.has_confidence()) kept.set_confidence(u.confidence());
  if (wanted("domain") && u.has_domain()) *kept.mutable_domain() = u.domain();
  if (wanted("related_files") && u.has_related_files()) {
    *kept.mutable_related_files() = u.related_files();
  }
  if (wanted("archived") && u.has_archived()) kept.set_archived(u.archived());
  if (wanted("tags") && u.has_tags()) *kept.mutable_tags() = u.tags();
  return kept;
}

pulsedb::sync::v1::FieldVersion FieldStamp(const pulsedb::sync::v1::VersionedEntity& entity,
                                           absl::string_view field) {
  for (const pulsedb::sync::v1::FieldVersion& f : entity.field_versions()) {
    if (f.field() == field) return f;
  }
  pulsedb::sync::v1::FieldVersion inherited;
  inherited.set_field(std::string(field));
  inherited.set_version(entity.created_version());
  inherited.set_stamp_timestamp(entity.created_timestamp());
  inherited.set_stamp_origin(entity.created_origin());
  return inherited;
}

void SetFieldStamp(const pulsedb::sync::v1::FieldVersion& stamp,
                   pulsedb::sync::v1::VersionedEntity* entity) {
  for (pulsedb::sync::v1::FieldVersion& f : *entity->mutable_field_versions()) {
    if (f.field() == stamp.field()) {
      f = stamp;
      return;
    }
  }
  *entity->add_field_versions() = stamp;
}

ExperienceUpdate CrdtPart(const ExperienceUpdate& u) {
  ExperienceUpdate crdt;
  *crdt.mutable_reinforcement() = u.reinforcement();
  if (u.has_last_reinforced()) crdt.set_last_reinforced(u.last_reinforced());
  return crdt;
}

}  // namespace pulse::storage
