#include "storage/change_applier.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/entity_rules.h"
#include "storage/ids.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;
using Kind = StageResult::Kind;

StageResult Skip(Kind kind, std::string reason) {
  StageResult r;
  r.kind = kind;
  r.reason = std::move(reason);
  return r;
}

std::string Named(pb::SyncEntityType type, absl::string_view id) {
  std::string name = pb::SyncEntityType_Name(type);
  // "SYNC_ENTITY_TYPE_EXPERIENCE" -> "experience"
  name = name.substr(name.rfind('_') + 1);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return absl::StrCat(name, " ", IdToText(id));
}

class Stager {
 public:
  Stager(WriteTxn& txn, const pb::SyncChange& change, const ApplyContext& ctx,
         const PreEncodedChange* encoded)
      : txn_(txn),
        change_(change),
        encoded_(encoded),
        ctx_(ctx),
        local_(ctx.mode == ApplyMode::kLocal) {}

  absl::StatusOr<StageResult> Run() {
    const pb::SyncPayload& p = change_.payload();
    switch (p.kind_case()) {
      case pb::SyncPayload::kCollectiveCreated:
        return CreateCollective(p.collective_created());
      case pb::SyncPayload::kExperienceCreated:
        return CreateExperience(p.experience_created());
      case pb::SyncPayload::kExperienceUpdated:
        return UpdateExperience(p.experience_updated().id(), p.experience_updated().update());
      case pb::SyncPayload::kExperienceArchived: {
        pb::ExperienceUpdate archive;
        archive.set_archived(true);
        return UpdateExperience(p.experience_archived().id(), archive);
      }
      case pb::SyncPayload::kExperienceDeleted:
        return Delete(pb::SYNC_ENTITY_TYPE_EXPERIENCE, p.experience_deleted().id());
      case pb::SyncPayload::kRelationCreated:
        return CreateRelation(p.relation_created());
      case pb::SyncPayload::kRelationDeleted:
        return Delete(pb::SYNC_ENTITY_TYPE_RELATION, p.relation_deleted().id());
      case pb::SyncPayload::kInsightCreated:
        return CreateInsight(p.insight_created());
      case pb::SyncPayload::kInsightDeleted:
        return Delete(pb::SYNC_ENTITY_TYPE_INSIGHT, p.insight_deleted().id());
      case pb::SyncPayload::KIND_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("change ", change_.sequence(), ": no payload set"));
  }

 private:
  // The version an entity gets when this change sets it (see VersionedEntity.version).
  uint64_t NewVersion(uint64_t log_sequence, uint64_t current) const {
    switch (ctx_.mode) {
      case ApplyMode::kFollower:
        return change_.log_sequence();
      case ApplyMode::kAuthority:
        return log_sequence;
      case ApplyMode::kLocal:
        return ctx_.authoritative_store ? log_sequence : current;
    }
    return current;
  }

  void Stamp(pb::VersionedEntity* entity, uint64_t log_sequence, uint64_t current_version,
             std::optional<int64_t> timestamp = std::nullopt) {
    entity->set_version(NewVersion(log_sequence, current_version));
    entity->set_stamp_timestamp(timestamp.value_or(change_.timestamp()));
    entity->set_stamp_origin(change_.source_instance());
    entity->set_collective_id(change_.collective_id());
  }

  // Common checks of every create: a tombstoned or existing id is acknowledged, not
  // applied (for a local write: an error).
  absl::StatusOr<std::optional<StageResult>> CheckCreatable(pb::SyncEntityType type,
                                                            absl::string_view id) {
    absl::StatusOr<bool> tombstoned = txn_.IsTombstoned(type, id);
    if (!tombstoned.ok()) return tombstoned.status();
    if (*tombstoned) {
      if (local_)
        return absl::FailedPreconditionError(absl::StrCat(Named(type, id), " was deleted"));
      return Skip(Kind::kSkipped, absl::StrCat(Named(type, id), " was deleted"));
    }
    absl::StatusOr<std::optional<pb::VersionedEntity>> existing =
        txn_.LoadEntity(type, id, EntityBody::kAsStored);  // whether it exists
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      if (local_) return absl::AlreadyExistsError(absl::StrCat(Named(type, id), " already exists"));
      return Skip(Kind::kSkipped, absl::StrCat(Named(type, id), " already exists"));
    }
    return std::nullopt;
  }

  // The collective `id`, which must exist, and an embedding length that matches it.
  // `type` and `id` name the entity in errors (built only when there is one).
  absl::Status CheckCollective(absl::string_view collective_id, int embedding_size,
                               pb::SyncEntityType type, absl::string_view id) {
    absl::StatusOr<std::optional<uint32_t>> found = txn_.CollectiveDimension(collective_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(Named(type, id), ": collective ", IdToText(collective_id), " not found"));
    }
    const uint32_t dimension = **found;
    if (static_cast<uint32_t>(embedding_size) != dimension) {
      return absl::InvalidArgumentError(
          absl::StrCat(Named(type, id), ": embedding has ", embedding_size, " values, collective ",
                       IdToText(collective_id), " expects ", dimension));
    }
    return absl::OkStatus();
  }

  // A change must name the collective its entity lives in (authorization and filters
  // trust it).
  absl::Status CheckSameCollective(const pb::VersionedEntity& entity, absl::string_view what) {
    if (entity.collective_id() == change_.collective_id()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(what, " is in collective ",
                                                   IdToText(entity.collective_id()), ", not ",
                                                   IdToText(change_.collective_id())));
  }

  StageResult Applied(uint64_t log_sequence) {
    StageResult r;
    r.log_sequence = log_sequence;
    return r;
  }

  absl::StatusOr<StageResult> CreateCollective(const pb::Collective& c) {
    auto check = CheckCreatable(pb::SYNC_ENTITY_TYPE_COLLECTIVE, c.id());
    if (!check.ok()) return check.status();
    if (check->has_value()) return **check;
    const uint64_t seq = txn_.AppendChange(change_, encoded_);
    pb::VersionedEntity entity;
    *entity.mutable_collective() = c;
    Stamp(&entity, seq, 0);
    txn_.PutEntity(pb::SYNC_ENTITY_TYPE_COLLECTIVE, c.id(), entity);
    return Applied(seq);
  }

  absl::StatusOr<StageResult> CreateExperience(const pb::Experience& e) {
    auto check = CheckCreatable(pb::SYNC_ENTITY_TYPE_EXPERIENCE, e.id());
    if (!check.ok()) return check.status();
    if (check->has_value()) return **check;
    if (absl::Status s = CheckCollective(e.collective_id(), e.embedding_size(),
                                         pb::SYNC_ENTITY_TYPE_EXPERIENCE, e.id());
        !s.ok()) {
      return s;
    }
    const uint64_t seq = txn_.AppendChange(change_, encoded_);
    pb::VersionedEntity& entity = txn_.ScratchEntity();
    // The body stays in the log entry just appended (entity_body.h): stored once, not twice.
    entity.set_body_log_sequence(seq);
    Stamp(&entity, seq, 0);
    entity.set_created_version(entity.version());
    entity.set_created_timestamp(entity.stamp_timestamp());
    entity.set_created_origin(entity.stamp_origin());
    txn_.PutEntity(pb::SYNC_ENTITY_TYPE_EXPERIENCE, e.id(), entity);
    return Applied(seq);
  }

  // Whether this update's value of a field beats the field's current version.
  bool FieldWins(const pb::FieldVersion& current) const {
    if (local_) return true;
    if (ctx_.conflict_resolution == pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS) {
      return StampIsNewer(change_.timestamp(), change_.source_instance(), current.stamp_timestamp(),
                          current.stamp_origin());
    }
    // SERVER_WINS: a follower takes whatever its hub sends. The hub refuses a field value
    // made on top of a version older than one another instance has since written.
    if (ctx_.mode == ApplyMode::kFollower) return true;
    return !(current.version() > change_.base_version() &&
             current.stamp_origin() != change_.source_instance());
  }

  // Plain fields resolve one by one (entity_rules.h): concurrent updates of different
  // fields both survive everywhere; of the same field, the conflict rule picks one.
  absl::StatusOr<StageResult> UpdateExperience(const std::string& id,
                                               const pb::ExperienceUpdate& update) {
    constexpr auto kType = pb::SYNC_ENTITY_TYPE_EXPERIENCE;
    absl::StatusOr<bool> tombstoned = txn_.IsTombstoned(kType, id);
    if (!tombstoned.ok()) return tombstoned.status();
    if (*tombstoned) {
      if (local_)
        return absl::FailedPreconditionError(absl::StrCat(Named(kType, id), " was deleted"));
      return Skip(Kind::kSkipped, absl::StrCat(Named(kType, id), " was deleted"));
    }
    absl::StatusOr<std::optional<pb::VersionedEntity>> loaded = txn_.LoadEntity(kType, id);
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) {
      if (local_) return absl::NotFoundError(absl::StrCat(Named(kType, id), " not found"));
      return absl::FailedPreconditionError(absl::StrCat(
          Named(kType, id), " not found (its create has not arrived yet); retry later"));
    }
    pb::VersionedEntity entity = std::move(**loaded);
    if (absl::Status s = CheckSameCollective(entity, Named(kType, id)); !s.ok()) return s;
    std::vector<std::string> won, lost;
    for (const std::string& field : PlainFieldsSet(update)) {
      (FieldWins(FieldStamp(entity, field)) ? won : lost).push_back(field);
    }
    const bool crdt_changed = MergeCrdtFields(update, entity.mutable_experience());
    if (won.empty() && !crdt_changed) {
      if (!lost.empty()) return Skip(Kind::kConflict, "a newer version is already in place");
      return Skip(Kind::kSkipped, "no effect");
    }
    int64_t stamp = change_.timestamp();
    if (local_) {
      // A local write must order after the versions it was made on, or last-write-wins
      // replicas would drop it while this one keeps it (a clock that went backwards, or a
      // remote write in the same millisecond from a larger origin id): move its stamp just
      // past them, like a hybrid logical clock.
      for (const std::string& field : won) {
        const pb::FieldVersion current = FieldStamp(entity, field);
        if (!StampIsNewer(stamp, change_.source_instance(), current.stamp_timestamp(),
                          current.stamp_origin())) {
          stamp = current.stamp_timestamp() + 1;
        }
      }
    }
    uint64_t seq;
    const bool reduced = !lost.empty() || stamp != change_.timestamp();
    if (!reduced && !local_) {
      seq = txn_.AppendChange(change_, encoded_);  // logged as it came
    } else {
      pb::SyncChange logged = change_;
      if (local_) logged.set_base_version(entity.version());
      if (reduced) {
        // Log what this store actually applied, so every follower applies the same.
        pb::ExperienceUpdated* kept = logged.mutable_payload()->mutable_experience_updated();
        kept->set_id(id);
        kept->set_timestamp(stamp);
        *kept->mutable_update() = KeepPlainFields(update, won);
        logged.set_timestamp(stamp);
      }
      seq = txn_.AppendChange(logged);
    }
    for (const std::string& field : won) {
      const pb::FieldVersion current = FieldStamp(entity, field);
      ApplyPlainField(field, update, entity.mutable_experience());
      pb::FieldVersion next;
      next.set_field(field);
      next.set_version(NewVersion(seq, current.version()));
      next.set_stamp_timestamp(stamp);
      next.set_stamp_origin(change_.source_instance());
      SetFieldStamp(next, &entity);
    }
    if (!won.empty()) Stamp(&entity, seq, entity.version(), stamp);
    if (ctx_.mode == ApplyMode::kFollower) {
      // Everything of this entity up to here in the hub's log is now applied here: the
      // base of this store's next local update of it.
      entity.set_version(std::max(entity.version(), change_.log_sequence()));
    }
    txn_.PutEntity(kType, id, entity);
    StageResult r = Applied(seq);
    if (!lost.empty()) {
      r.kind = Kind::kConflict;
      r.reason =
          absl::StrCat(lost.size(), " field(s) already have a newer version; the rest merged");
    }
    return r;
  }

  absl::StatusOr<StageResult> CreateRelation(const pb::Relation& r) {
    constexpr auto kExp = pb::SYNC_ENTITY_TYPE_EXPERIENCE;
    auto check = CheckCreatable(pb::SYNC_ENTITY_TYPE_RELATION, r.id());
    if (!check.ok()) return check.status();
    if (check->has_value()) return **check;
    std::string collective;
    for (const std::string* endpoint : {&r.source_id(), &r.target_id()}) {
      absl::StatusOr<bool> gone = txn_.IsTombstoned(kExp, *endpoint);
      if (!gone.ok()) return gone.status();
      const std::string what = Named(pb::SYNC_ENTITY_TYPE_RELATION, r.id());
      if (*gone) {
        if (local_) {
          return absl::FailedPreconditionError(
              absl::StrCat(what, ": ", Named(kExp, *endpoint), " was deleted"));
        }
        return Skip(Kind::kSkipped, absl::StrCat(Named(kExp, *endpoint), " was deleted"));
      }
      absl::StatusOr<std::optional<pb::VersionedEntity>> exp =
          txn_.LoadEntity(kExp, *endpoint, EntityBody::kAsStored);  // exists, and where
      if (!exp.ok()) return exp.status();
      if (!exp->has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": ", Named(kExp, *endpoint), " not found"));
      }
      if (collective.empty()) {
        collective = (*exp)->collective_id();
      } else if ((*exp)->collective_id() != collective) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": source and target are in different collectives"));
      }
    }
    if (collective != change_.collective_id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Named(pb::SYNC_ENTITY_TYPE_RELATION, r.id()), ": change names collective ",
          IdToText(change_.collective_id()), " but its experiences are in ", IdToText(collective)));
    }
    const uint64_t seq = txn_.AppendChange(change_, encoded_);
    pb::VersionedEntity entity;
    *entity.mutable_relation() = r;
    Stamp(&entity, seq, 0);
    txn_.PutEntity(pb::SYNC_ENTITY_TYPE_RELATION, r.id(), entity);
    txn_.IndexRelation(r);
    return Applied(seq);
  }

  absl::StatusOr<StageResult> CreateInsight(const pb::Insight& i) {
    auto check = CheckCreatable(pb::SYNC_ENTITY_TYPE_INSIGHT, i.id());
    if (!check.ok()) return check.status();
    if (check->has_value()) return **check;
    if (absl::Status s = CheckCollective(i.collective_id(), i.embedding_size(),
                                         pb::SYNC_ENTITY_TYPE_INSIGHT, i.id());
        !s.ok()) {
      return s;
    }
    const uint64_t seq = txn_.AppendChange(change_, encoded_);
    pb::VersionedEntity entity;
    *entity.mutable_insight() = i;
    Stamp(&entity, seq, 0);
    txn_.PutEntity(pb::SYNC_ENTITY_TYPE_INSIGHT, i.id(), entity);
    return Applied(seq);
  }

  void Tombstone(pb::SyncEntityType type, absl::string_view id, absl::string_view collective,
                 uint64_t seq) {
    pb::Tombstone t;
    t.set_entity_type(type);
    t.set_id(std::string(id));
    t.set_collective_id(std::string(collective));
    t.set_deleted_at(change_.timestamp());
    t.set_log_sequence(seq);
    txn_.PutTombstone(t);
  }

  absl::StatusOr<StageResult> Delete(pb::SyncEntityType type, const std::string& id) {
    absl::StatusOr<bool> tombstoned = txn_.IsTombstoned(type, id);
    if (!tombstoned.ok()) return tombstoned.status();
    if (*tombstoned) {
      if (local_) return absl::NotFoundError(absl::StrCat(Named(type, id), " was already deleted"));
      return Skip(Kind::kSkipped, absl::StrCat(Named(type, id), " was already deleted"));
    }
    // Its collective (and a relation's endpoints: relation rows are always whole).
    absl::StatusOr<std::optional<pb::VersionedEntity>> loaded =
        txn_.LoadEntity(type, id, EntityBody::kAsStored);
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value() && local_) {
      return absl::NotFoundError(absl::StrCat(Named(type, id), " not found"));
    }
    if (loaded->has_value()) {
      if (absl::Status s = CheckSameCollective(**loaded, Named(type, id)); !s.ok()) return s;
    }
    // Cascade first: relations touching a deleted experience go too, on every replica.
    std::vector<pb::Relation> cascaded;
    if (type == pb::SYNC_ENTITY_TYPE_EXPERIENCE && loaded->has_value()) {
      absl::StatusOr<std::vector<std::string>> touching = txn_.RelationsTouching(id);
      if (!touching.ok()) return touching.status();
      for (const std::string& relation_id : *touching) {
        auto relation = txn_.LoadEntity(pb::SYNC_ENTITY_TYPE_RELATION, relation_id);
        if (!relation.ok()) return relation.status();
        if (relation->has_value()) cascaded.push_back((*relation)->relation());
      }
    }
    const uint64_t seq = txn_.AppendChange(change_, encoded_);
    // A delete that arrives before its create still leaves a tombstone, so the late
    // create cannot resurrect the entity.
    Tombstone(type, id, loaded->has_value() ? (*loaded)->collective_id() : change_.collective_id(),
              seq);
    if (loaded->has_value()) {
      txn_.DeleteEntity(type, id);
      if (type == pb::SYNC_ENTITY_TYPE_RELATION) txn_.UnindexRelation((*loaded)->relation());
    }
    for (const pb::Relation& relation : cascaded) {
      txn_.DeleteEntity(pb::SYNC_ENTITY_TYPE_RELATION, relation.id());
      txn_.UnindexRelation(relation);
      Tombstone(pb::SYNC_ENTITY_TYPE_RELATION, relation.id(), (*loaded)->collective_id(), seq);
    }
    return Applied(seq);
  }

  WriteTxn& txn_;
  const pb::SyncChange& change_;
  const PreEncodedChange* encoded_;  // may be null
  const ApplyContext& ctx_;
  const bool local_;
};

}  // namespace

absl::StatusOr<StageResult> StageChange(WriteTxn& txn, const pb::SyncChange& change,
                                        const ApplyContext& context,
                                        const PreEncodedChange* encoded) {
  if (context.mode == ApplyMode::kLocal) return Stager(txn, change, context, encoded).Run();
  if (change.source_instance() == context.self_id) {
    // Our own change coming back (a snapshot, a replaced hub): we already have it.
    return Skip(StageResult::Kind::kDuplicate, "own change");
  }
  absl::StatusOr<uint64_t> mark = txn.OriginMark(change.source_instance());
  if (!mark.ok()) return mark.status();
  if (change.sequence() <= *mark) {
    return Skip(StageResult::Kind::kDuplicate, absl::StrCat("already applied through ", *mark));
  }
  absl::StatusOr<StageResult> result = Stager(txn, change, context, encoded).Run();
  if (result.ok()) txn.SetOriginMark(change.source_instance(), change.sequence());
  return result;
}

}  // namespace pulse::storage
