// Store: snapshots (reading one, applying one, what a peer drops after one).
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/apply_guard.h"
#include "storage/change_header.h"
#include "storage/entity_rules.h"
#include "storage/ids.h"
#include "storage/rocks_status.h"
#include "storage/snapshot_reader.h"
#include "storage/store.h"
#include "storage/validation.h"

namespace pulse::storage {

namespace pb = pulsedb::sync::v1;

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SnapshotReader>> Store::OpenSnapshot(
    std::vector<std::string> collectives) const {
  // The published head first: everything up to it is in any snapshot taken after.
  const uint64_t durable_head = log_->Head();
  return SnapshotReader::Open(db_.get(), cf_, std::move(collectives), durable_head);
}

absl::StatusOr<SnapshotApplyReport> Store::ApplySnapshotChunk(const pb::SnapshotChunk& chunk,
                                                              ApplyContext context,
                                                              absl::string_view hub_id) {
  context.self_id = instance_id();
  context.mode = ApplyMode::kFollower;
  SyncApplyGuard guard;
  SnapshotApplyReport report;
  absl::Status s = Commit([&](WriteTxn& txn) -> absl::Status {
    report = SnapshotApplyReport();
    for (const pb::VersionedEntity& incoming : chunk.entities()) {
      pb::SyncEntityType type;
      if (!EntityTypeOfVersioned(incoming, &type)) {
        return absl::InvalidArgumentError("snapshot entity without a payload");
      }
      const std::string& id = VersionedEntityId(incoming);
      if (absl::Status v = ValidateId(id, "snapshot entity id"); !v.ok()) return v;
      absl::StatusOr<bool> tombstoned = txn.IsTombstoned(type, id);
      if (!tombstoned.ok()) return tombstoned.status();
      if (*tombstoned) {
        ++report.skipped;
        continue;
      }
      absl::StatusOr<std::optional<pb::VersionedEntity>> local = txn.LoadEntity(type, id);
      if (!local.ok()) return local.status();
      pb::VersionedEntity merged = incoming;
      if (local->has_value()) {
        if (type != pb::SYNC_ENTITY_TYPE_EXPERIENCE) {
          ++report.skipped;  // immutable once created: nothing to merge
          continue;
        }
        // Field by field, as updates are (change_applier.h); the G-counter by maximum.
        const pb::VersionedEntity& mine = **local;
        merged = mine;
        for (const std::string& field : PlainFieldNames()) {
          const pb::FieldVersion theirs = FieldStamp(incoming, field);
          const pb::FieldVersion ours = FieldStamp(mine, field);
          const bool take = context.conflict_resolution == pb::CONFLICT_RESOLUTION_SERVER_WINS
                                ? theirs.version() >= ours.version()
                                : StampIsNewer(theirs.stamp_timestamp(), theirs.stamp_origin(),
                                               ours.stamp_timestamp(), ours.stamp_origin());
          if (!take) continue;
          CopyPlainField(field, incoming.experience(), merged.mutable_experience());
          SetFieldStamp(theirs, &merged);
        }
        MergeCrdtFields(
            [&] {
              pb::ExperienceUpdate crdt;
              *crdt.mutable_reinforcement() = incoming.experience().reinforcement();
              crdt.set_last_reinforced(incoming.experience().last_reinforced());
              return crdt;
            }(),
            merged.mutable_experience());
        merged.set_version(std::max(mine.version(), incoming.version()));
      } else if (type == pb::SYNC_ENTITY_TYPE_EXPERIENCE) {
        NormalizeReinforcement(merged.mutable_experience());
      }
      txn.PutEntity(type, id, merged);
      if (type == pb::SYNC_ENTITY_TYPE_RELATION) txn.IndexRelation(merged.relation());
      ++report.entities;
    }
    for (const pb::Tombstone& tombstone : chunk.tombstones()) {
      if (absl::Status v = ValidateId(tombstone.id(), "tombstone id"); !v.ok()) return v;
      if (txn.cf().ForEntity(tombstone.entity_type()) == nullptr) {
        return absl::InvalidArgumentError("tombstone of an unknown entity type");
      }
      absl::StatusOr<bool> already = txn.IsTombstoned(tombstone.entity_type(), tombstone.id());
      if (!already.ok()) return already.status();
      if (*already) continue;
      absl::StatusOr<std::optional<pb::VersionedEntity>> local =
          txn.LoadEntity(tombstone.entity_type(), tombstone.id());
      if (!local.ok()) return local.status();
      if (local->has_value()) {
        if (tombstone.entity_type() == pb::SYNC_ENTITY_TYPE_EXPERIENCE) {
          absl::StatusOr<std::vector<std::string>> touching = txn.RelationsTouching(tombstone.id());
          if (!touching.ok()) return touching.status();
          for (const std::string& relation_id : *touching) {
            auto relation = txn.LoadEntity(pb::SYNC_ENTITY_TYPE_RELATION, relation_id);
            if (!relation.ok()) return relation.status();
            if (!relation->has_value()) continue;
            txn.DeleteEntity(pb::SYNC_ENTITY_TYPE_RELATION, relation_id);
            txn.UnindexRelation((*relation)->relation());
            pb::Tombstone cascaded = tombstone;
            cascaded.set_entity_type(pb::SYNC_ENTITY_TYPE_RELATION);
            cascaded.set_id(relation_id);
            txn.PutTombstone(cascaded);
          }
        }
        if (tombstone.entity_type() == pb::SYNC_ENTITY_TYPE_RELATION) {
          txn.UnindexRelation((*local)->relation());
        }
        txn.DeleteEntity(tombstone.entity_type(), tombstone.id());
      }
      // Tombstones here are kept until this store's own compaction passes them.
      pb::Tombstone kept = tombstone;
      kept.set_log_sequence(txn.head());
      txn.PutTombstone(kept);
      ++report.tombstones;
    }
    for (const pb::OriginWatermark& mark : chunk.origins()) {
      if (mark.instance_id() == context.self_id) continue;
      if (absl::Status v = ValidateId(mark.instance_id(), "origin id"); !v.ok()) return v;
      absl::StatusOr<uint64_t> current = txn.OriginMark(mark.instance_id());
      if (!current.ok()) return current.status();
      if (mark.sequence() > *current) txn.SetOriginMark(mark.instance_id(), mark.sequence());
    }
    if (chunk.done()) {
      return txn.AdvanceCursor(hub_id, CursorKind::kPull, chunk.sequence());
    }
    return absl::OkStatus();
    // Only the last chunk is fsynced (its sync covers the earlier ones): until it, the
    // pull cursor has not moved, and a peer that crashes starts the snapshot again.
  }, /*durable=*/chunk.done(), /*pipelined=*/true);
  if (!s.ok()) return s;
  return report;
}

std::string Store::SnapshotEntityKey(pb::SyncEntityType type, absl::string_view id) {
  return absl::StrCat(static_cast<int>(type), ":", id);
}

std::string Store::SnapshotEntityKey(const pb::VersionedEntity& entity) {
  pb::SyncEntityType type;
  if (!EntityTypeOfVersioned(entity, &type)) return "";
  return SnapshotEntityKey(type, VersionedEntityId(entity));
}

absl::StatusOr<int> Store::PruneAfterSnapshot(const absl::flat_hash_set<std::string>& received,
                                              const ScanFilter& synced, absl::string_view hub_id) {
  const std::string self = instance_id();
  const absl::flat_hash_set<std::string> scope(synced.collectives.begin(),
                                               synced.collectives.end());
  const auto type_synced = [&](pb::SyncEntityType type) {
    return synced.entity_types.empty() ||
           std::find(synced.entity_types.begin(), synced.entity_types.end(), type) !=
               synced.entity_types.end();
  };
  int removed = 0;
  // One commit group: what is kept and what is removed are decided on the same state, with
  // no local write in between.
  absl::Status s = Commit([&](WriteTxn& txn) -> absl::Status {
    removed = 0;
    // Own creates the hub has not acknowledged yet: the snapshot cannot hold them.
    absl::StatusOr<std::optional<uint64_t>> pushed = txn.Cursor(hub_id, CursorKind::kPush);
    if (!pushed.ok()) return pushed.status();
    absl::flat_hash_set<std::string> unpushed;
    std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), cf_.wal));
    for (log->Seek(EncodeSequence(pushed->value_or(0) + 1)); log->Valid(); log->Next()) {
      ChangeHeader header;
      if (!ReadChangeHeader(ToView(log->value()), &header)) {
        return absl::DataLossError("corrupt log entry");
      }
      if (header.source_instance != self) continue;
      pb::SyncChange change;
      if (!change.ParseFromArray(log->value().data(), static_cast<int>(log->value().size()))) {
        return absl::DataLossError("corrupt log entry");
      }
      const pb::SyncPayload& p = change.payload();
      // Only creates: an own update of an entity the hub deleted goes with it (and is
      // then moot, not pushed).
      if (p.has_experience_created() || p.has_relation_created() || p.has_insight_created()) {
        unpushed.insert(SnapshotEntityKey(change.entity_type(), PayloadEntityId(p)));
      }
    }
    if (!log->status().ok()) return FromRocks(log->status(), "log scan");
    // Children before parents does not matter here: each removal is independent.
    for (pb::SyncEntityType type : {pb::SYNC_ENTITY_TYPE_EXPERIENCE, pb::SYNC_ENTITY_TYPE_RELATION,
                                    pb::SYNC_ENTITY_TYPE_INSIGHT}) {
      if (!type_synced(type)) continue;  // never pushed: the hub cannot have it
      std::vector<std::pair<std::string, pb::VersionedEntity>> gone;
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions(), cf_.ForEntity(type)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string id = it->key().ToString();
        const std::string key = SnapshotEntityKey(type, id);
        if (received.contains(key) || unpushed.contains(key)) continue;
        pb::VersionedEntity row;
        if (!row.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError(absl::StrCat("corrupt entity record ", IdToText(id)));
        }
        if (!scope.empty() && !scope.contains(row.collective_id())) continue;
        gone.emplace_back(id, std::move(row));
      }
      if (!it->status().ok()) return FromRocks(it->status(), "entity scan");
      for (const auto& [id, row] : gone) {
        if (type == pb::SYNC_ENTITY_TYPE_RELATION) txn.UnindexRelation(row.relation());
        txn.DeleteEntity(type, id);
        pb::Tombstone tombstone;
        tombstone.set_entity_type(type);
        tombstone.set_id(id);
        tombstone.set_collective_id(row.collective_id());
        tombstone.set_deleted_at(absl::ToUnixMillis(absl::Now()));
        tombstone.set_log_sequence(txn.head());
        txn.PutTombstone(tombstone);
        ++removed;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return removed;
}

absl::Status Store::MarkHistoryUnavailableThrough(uint64_t sequence) {
  if (log_->Head() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the log already holds ", log_->Head(), " entries"));
  }
  absl::Status s = Commit([&](WriteTxn& txn) {
    txn.Put(cf_.meta, kMetaHead, EncodeSequence(sequence));
    txn.Put(cf_.meta, kMetaCompactedThrough, EncodeSequence(sequence));
    committed_head_ = sequence;  // this stage runs on the group leader, its only user
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  log_->ResetEmpty(sequence);
  return absl::OkStatus();
}

}  // namespace pulse::storage
