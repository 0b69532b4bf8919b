#include "storage/write_txn.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/change_encoding.h"
#include "storage/entity_body.h"
#include "storage/ids.h"
#include "storage/rocks_status.h"

namespace pulse::storage {

using pulsedb::sync::v1::Relation;
using pulsedb::sync::v1::SyncChange;
using pulsedb::sync::v1::SyncEntityType;
using pulsedb::sync::v1::Tombstone;
using pulsedb::sync::v1::VersionedEntity;

WriteTxn::WriteTxn(rocksdb::DB* db, const ColumnFamilies& cf, uint64_t head,
                   rocksdb::WriteBatch* batch, std::vector<const WriteTxn*> bases,
                   TombstoneFilter* tombstones)
    : db_(db),
      cf_(cf),
      batch_(*batch),
      bases_(std::move(bases)),
      tombstones_(tombstones),
      first_sequence_(head + 1),
      next_sequence_(head + 1) {
  batch_.Clear();
}

const WriteTxn::Staged* WriteTxn::FindStaged(const std::string& index_key) const {
  auto it = staged_.find(index_key);
  return it == staged_.end() ? nullptr : &it->second;
}

std::string WriteTxn::IndexKey(rocksdb::ColumnFamilyHandle* cf, absl::string_view key) {
  const uint32_t id = cf->GetID();
  std::string out(reinterpret_cast<const char*>(&id), sizeof id);
  out.append(key.data(), key.size());
  return out;
}

void WriteTxn::Stage(rocksdb::ColumnFamilyHandle* cf, absl::string_view key, const Staged& staged) {
  Undo undo;
  undo.index_key = IndexKey(cf, key);
  auto [it, inserted] = staged_.try_emplace(undo.index_key, staged);
  if (!inserted) {
    undo.previous = it->second;
    it->second = staged;
  }
  if (cf == cf_.relation_index) {
    undo.relation = true;
    auto [rel, fresh] = staged_relations_.try_emplace(std::string(key), !staged.deleted);
    if (!fresh) {
      undo.previous_relation = rel->second;
      rel->second = !staged.deleted;
    }
  }
  undo_.push_back(std::move(undo));
}

absl::StatusOr<std::optional<std::string>> WriteTxn::Get(rocksdb::ColumnFamilyHandle* cf,
                                                         absl::string_view key) {
  const std::string index_key = IndexKey(cf, key);
  // This group's writes, then its bases' from the newest: the latest staged write wins.
  const WriteTxn* txn = this;
  for (std::size_t next_base = bases_.size();;) {
    if (const Staged* staged = txn->FindStaged(index_key); staged != nullptr) {
      if (staged->deleted) return std::nullopt;
      return txn->batch_.Data().substr(staged->offset, staged->size);
    }
    if (next_base == 0) break;
    txn = bases_[--next_base];
  }
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "read");
  return value;
}

void WriteTxn::Put(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
                   absl::string_view value) {
  // Before it can be read back (tombstone_filter.h: never a false negative).
  if (cf == cf_.tombstones && tombstones_ != nullptr) tombstones_->Add(key);
  batch_.Put(cf, rocksdb::Slice(key.data(), key.size()),
             rocksdb::Slice(value.data(), value.size()));
  // A Put record ends with the value's bytes.
  Stage(cf, key, Staged{false, batch_.GetDataSize() - value.size(), value.size()});
}

void WriteTxn::PutPieces(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
                         const std::array<absl::string_view, 3>& pieces) {
  rocksdb::Slice value[3];
  std::size_t size = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    value[i] = rocksdb::Slice(pieces[i].data(), pieces[i].size());
    size += pieces[i].size();
  }
  if (cf == cf_.tombstones && tombstones_ != nullptr) tombstones_->Add(key);
  const rocksdb::Slice key_slice(key.data(), key.size());
  batch_.Put(cf, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(value, 3));
  // A Put record ends with the value's bytes, the pieces one after another.
  Stage(cf, key, Staged{false, batch_.GetDataSize() - size, size});
}

void WriteTxn::Delete(rocksdb::ColumnFamilyHandle* cf, absl::string_view key) {
  batch_.Delete(cf, rocksdb::Slice(key.data(), key.size()));
  Stage(cf, key, Staged{true, 0, 0});
}

absl::StatusOr<std::optional<VersionedEntity>> WriteTxn::LoadEntity(SyncEntityType type,
                                                                    absl::string_view id,
                                                                    EntityBody body) {
  rocksdb::ColumnFamilyHandle* family = cf_.ForEntity(type);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entity type ", type));
  }
  absl::StatusOr<std::optional<std::string>> raw = Get(family, id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  VersionedEntity entity;
  if (!entity.ParseFromString(**raw)) {
    return absl::InternalError(
        absl::StrCat("corrupt ", SyncEntityType_Name(type), " record ", IdToText(id)));
  }
  if (body == EntityBody::kFilled && RefersToLoggedBody(entity)) {
    // Inside a commit group no compaction can remove the entry between the two reads:
    // Store::CompactWal copies bodies out in a commit group of its own first.
    const uint64_t sequence = entity.body_log_sequence();
    absl::StatusOr<std::optional<std::string>> entry = Get(cf_.wal, EncodeSequence(sequence));
    if (!entry.ok()) return entry.status();
    if (!entry->has_value()) return MissingBodyError(id, sequence);
    if (absl::Status s = FillBodyFromLogEntry(id, **entry, &entity); !s.ok()) return s;
  }
  return entity;
}

absl::StatusOr<std::optional<uint32_t>> WriteTxn::CollectiveDimension(absl::string_view id) {
  if (auto it = collective_dimensions_.find(id); it != collective_dimensions_.end()) {
    return it->second;
  }
  absl::StatusOr<std::optional<VersionedEntity>> collective =
      LoadEntity(SyncEntityType::SYNC_ENTITY_TYPE_COLLECTIVE, id);
  if (!collective.ok()) return collective.status();
  std::optional<uint32_t> dimension;
  if (collective->has_value()) dimension = (*collective)->collective().embedding_dimension();
  collective_dimensions_.emplace(std::string(id), dimension);
  return dimension;
}

void WriteTxn::PutEntity(SyncEntityType type, absl::string_view id, const VersionedEntity& entity) {
  if (type == SyncEntityType::SYNC_ENTITY_TYPE_COLLECTIVE) collective_dimensions_.erase(id);
  if (RefersToLoggedBody(entity) && entity.entity_case() != VersionedEntity::ENTITY_NOT_SET) {
    // A row has its body or refers to one, never both (a stale reference would win on read).
    VersionedEntity whole = entity;
    whole.clear_body_log_sequence();
    Put(cf_.ForEntity(type), id, whole.SerializeAsString());
    return;
  }
  // Serialized into a buffer kept for the group (Put copies it into the batch).
  entity.SerializeToString(&row_scratch_);
  Put(cf_.ForEntity(type), id, row_scratch_);
}

VersionedEntity& WriteTxn::ScratchEntity() {
  entity_scratch_.Clear();
  return entity_scratch_;
}

void WriteTxn::DeleteEntity(SyncEntityType type, absl::string_view id) {
  if (type == SyncEntityType::SYNC_ENTITY_TYPE_COLLECTIVE) collective_dimensions_.erase(id);
  Delete(cf_.ForEntity(type), id);
}

absl::StatusOr<bool> WriteTxn::IsTombstoned(SyncEntityType type, absl::string_view id) {
  const std::string key = EncodeTombstoneKey(type, id);
  // Every tombstone stored or staged is in the filter: a key it cannot contain has none.
  if (tombstones_ != nullptr && !tombstones_->MayContain(key)) return false;
  absl::StatusOr<std::optional<std::string>> raw = Get(cf_.tombstones, key);
  if (!raw.ok()) return raw.status();
  return raw->has_value();
}

void WriteTxn::PutTombstone(const Tombstone& tombstone) {
  Put(cf_.tombstones, EncodeTombstoneKey(tombstone.entity_type(), tombstone.id()),
      tombstone.SerializeAsString());
}

absl::StatusOr<std::vector<std::string>> WriteTxn::RelationsTouching(
    absl::string_view experience_id) {
  // The stored keys with this prefix, overlaid with the ones staged here.
  std::map<std::string, bool> keys;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf_.relation_index));
  const rocksdb::Slice prefix(experience_id.data(), experience_id.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    keys.emplace(it->key().ToString(), true);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "relation index scan");
  // The base groups' writes, whether or not they have reached the database yet (the
  // oldest first, so that later ones win), then ours.
  for (const WriteTxn* base : bases_) base->OverlayRelations(experience_id, keys);
  OverlayRelations(experience_id, keys);
  std::vector<std::string> ids;
  for (const auto& [key, present] : keys) {
    if (!present) continue;
    if (key.size() != 2 * kIdSize) return absl::InternalError("corrupt relation index key");
    ids.emplace_back(key.data() + kIdSize, kIdSize);
  }
  return ids;
}

void WriteTxn::OverlayRelations(absl::string_view prefix, std::map<std::string, bool>& keys) const {
  for (auto staged = staged_relations_.lower_bound(std::string(prefix));
       staged != staged_relations_.end() &&
       absl::string_view(staged->first).substr(0, prefix.size()) == prefix;
       ++staged) {
    keys[staged->first] = staged->second;
  }
}

void WriteTxn::IndexRelation(const Relation& relation) {
  Put(cf_.relation_index, EncodeRelationIndexKey(relation.source_id(), relation.id()), "");
  Put(cf_.relation_index, EncodeRelationIndexKey(relation.target_id(), relation.id()), "");
}

void WriteTxn::UnindexRelation(const Relation& relation) {
  Delete(cf_.relation_index, EncodeRelationIndexKey(relation.source_id(), relation.id()));
  Delete(cf_.relation_index, EncodeRelationIndexKey(relation.target_id(), relation.id()));
}

uint64_t WriteTxn::AppendChange(const SyncChange& change, const PreEncodedChange* encoded) {
  const uint64_t sequence = next_sequence_++;
  if (encoded != nullptr && encoded->ready()) {
    std::string field;
    PutPieces(cf_.wal, EncodeSequence(sequence), encoded->Splice(sequence, &field));
  } else {
    Put(cf_.wal, EncodeSequence(sequence), SerializeWithLogSequence(change, sequence));
  }
  return sequence;
}

absl::StatusOr<uint64_t> WriteTxn::OriginMark(absl::string_view origin) {
  if (auto it = origin_marks_.find(origin); it != origin_marks_.end()) return it->second;
  absl::StatusOr<std::optional<std::string>> raw = Get(cf_.origins, origin);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return 0;
  return DecodeSequence(**raw);
}

void WriteTxn::SetOriginMark(absl::string_view origin, uint64_t sequence) {
  Undo undo;
  undo.origin_mark = true;
  undo.index_key = std::string(origin);
  auto [it, inserted] = origin_marks_.try_emplace(undo.index_key, sequence);
  if (!inserted) {
    undo.previous_mark = it->second;
    it->second = sequence;
  }
  undo_.push_back(std::move(undo));
}

void WriteTxn::StageOriginMarks() {
  for (const auto& [origin, sequence] : origin_marks_) {
    Put(cf_.origins, origin, EncodeSequence(sequence));
  }
  origin_marks_.clear();
}

absl::StatusOr<std::optional<uint64_t>> WriteTxn::Cursor(absl::string_view peer_id,
                                                         CursorKind kind) {
  absl::StatusOr<std::optional<std::string>> raw = Get(cf_.cursors, EncodeCursorKey(peer_id, kind));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  absl::StatusOr<uint64_t> value = DecodeSequence(**raw);
  if (!value.ok()) return value.status();
  return *value;
}

absl::Status WriteTxn::AdvanceCursor(absl::string_view peer_id, CursorKind kind,
                                     uint64_t sequence) {
  absl::StatusOr<std::optional<uint64_t>> current = Cursor(peer_id, kind);
  if (!current.ok()) return current.status();
  if (current->has_value() && **current >= sequence) return absl::OkStatus();
  Put(cf_.cursors, EncodeCursorKey(peer_id, kind), EncodeSequence(sequence));
  return absl::OkStatus();
}

void WriteTxn::SetSavePoint() {
  batch_.SetSavePoint();
  save_points_.push_back(SavePoint{next_sequence_, undo_.size()});
}

void WriteTxn::RollbackToSavePoint() {
  batch_.RollbackToSavePoint();
  collective_dimensions_.clear();  // may hold a collective the rollback removes
  const SavePoint point = save_points_.back();
  save_points_.pop_back();
  next_sequence_ = point.next_sequence;
  while (undo_.size() > point.undo_size) {
    Undo& undo = undo_.back();
    if (undo.origin_mark) {
      if (undo.previous_mark.has_value()) {
        origin_marks_[undo.index_key] = *undo.previous_mark;
      } else {
        origin_marks_.erase(undo.index_key);
      }
      undo_.pop_back();
      continue;
    }
    if (undo.previous.has_value()) {
      staged_[undo.index_key] = *undo.previous;
    } else {
      staged_.erase(undo.index_key);
    }
    if (undo.relation) {
      const std::string key = undo.index_key.substr(sizeof(uint32_t));
      if (undo.previous_relation.has_value()) {
        staged_relations_[key] = *undo.previous_relation;
      } else {
        staged_relations_.erase(key);
      }
    }
    undo_.pop_back();
  }
}

void WriteTxn::PopSavePoint() {
  batch_.PopSavePoint();
  save_points_.pop_back();
}

}  // namespace pulse::storage
