#include "storage/write_txn.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/comparator.h"
#include "storage/ids.h"
#include "storage/rocks_status.h"

namespace pulse::storage {

using pulsedb::sync::v1::Relation;
using pulsedb::sync::v1::SyncChange;
using pulsedb::sync::v1::SyncEntityType;
using pulsedb::sync::v1::Tombstone;
using pulsedb::sync::v1::VersionedEntity;

WriteTxn::WriteTxn(rocksdb::DB* db, const ColumnFamilies& cf, uint64_t head)
    : db_(db),
      cf_(cf),
      batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true),
      first_sequence_(head + 1),
      next_sequence_(head + 1) {}

absl::StatusOr<std::optional<std::string>> WriteTxn::Get(rocksdb::ColumnFamilyHandle* cf,
                                                         absl::string_view key) {
  std::string value;
  rocksdb::Status s = batch_.GetFromBatchAndDB(db_, rocksdb::ReadOptions(), cf,
                                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "read");
  return value;
}

void WriteTxn::Put(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
                   absl::string_view value) {
  batch_.Put(cf, rocksdb::Slice(key.data(), key.size()),
             rocksdb::Slice(value.data(), value.size()));
}

void WriteTxn::Delete(rocksdb::ColumnFamilyHandle* cf, absl::string_view key) {
  batch_.Delete(cf, rocksdb::Slice(key.data(), key.size()));
}

absl::StatusOr<std::optional<VersionedEntity>> WriteTxn::LoadEntity(SyncEntityType type,
                                                                    absl::string_view id) {
  rocksdb::ColumnFamilyHandle* family = cf_.ForEntity(type);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entity type ", type));
  }
  absl::StatusOr<std::optional<std::string>> raw = Get(family, id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  VersionedEntity entity;
  if (!entity.ParseFromString(**raw)) {
    return absl::InternalError(absl::StrCat("corrupt ", SyncEntityType_Name(type), " record ",
                                            IdToText(id)));
  }
  return entity;
}

void WriteTxn::PutEntity(SyncEntityType type, absl::string_view id,
                         const VersionedEntity& entity) {
  Put(cf_.ForEntity(type), id, entity.SerializeAsString());
}

void WriteTxn::DeleteEntity(SyncEntityType type, absl::string_view id) {
  Delete(cf_.ForEntity(type), id);
}

absl::StatusOr<bool> WriteTxn::IsTombstoned(SyncEntityType type, absl::string_view id) {
  absl::StatusOr<std::optional<std::string>> raw =
      Get(cf_.tombstones, EncodeTombstoneKey(type, id));
  if (!raw.ok()) return raw.status();
  return raw->has_value();
}

void WriteTxn::PutTombstone(const Tombstone& tombstone) {
  Put(cf_.tombstones, EncodeTombstoneKey(tombstone.entity_type(), tombstone.id()),
      tombstone.SerializeAsString());
}

absl::StatusOr<std::vector<std::string>> WriteTxn::RelationsTouching(
    absl::string_view experience_id) {
  std::vector<std::string> ids;
  rocksdb::ReadOptions read;
  std::unique_ptr<rocksdb::Iterator> it(batch_.NewIteratorWithBase(
      cf_.relation_index, db_->NewIterator(read, cf_.relation_index), &read));
  const rocksdb::Slice prefix(experience_id.data(), experience_id.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != 2 * kIdSize) {
      return absl::InternalError("corrupt relation index key");
    }
    ids.emplace_back(it->key().data() + kIdSize, kIdSize);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "relation index scan");
  return ids;
}

void WriteTxn::IndexRelation(const Relation& relation) {
  Put(cf_.relation_index, EncodeRelationIndexKey(relation.source_id(), relation.id()), "");
  Put(cf_.relation_index, EncodeRelationIndexKey(relation.target_id(), relation.id()), "");
}

void WriteTxn::UnindexRelation(const Relation& relation) {
  Delete(cf_.relation_index, EncodeRelationIndexKey(relation.source_id(), relation.id()));
  Delete(cf_.relation_index, EncodeRelationIndexKey(relation.target_id(), relation.id()));
}

uint64_t WriteTxn::AppendChange(SyncChange change) {
  const uint64_t sequence = next_sequence_++;
  change.set_log_sequence(sequence);
  Put(cf_.wal, EncodeSequence(sequence), change.SerializeAsString());
  return sequence;
}

absl::StatusOr<uint64_t> WriteTxn::OriginMark(absl::string_view origin) {
  absl::StatusOr<std::optional<std::string>> raw = Get(cf_.origins, origin);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return 0;
  return DecodeSequence(**raw);
}

void WriteTxn::SetOriginMark(absl::string_view origin, uint64_t sequence) {
  Put(cf_.origins, origin, EncodeSequence(sequence));
}

absl::StatusOr<std::optional<uint64_t>> WriteTxn::Cursor(absl::string_view peer_id,
                                                         CursorKind kind) {
  absl::StatusOr<std::optional<std::string>> raw =
      Get(cf_.cursors, EncodeCursorKey(peer_id, kind));
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
  saved_sequences_.push_back(next_sequence_);
}

void WriteTxn::RollbackToSavePoint() {
  batch_.RollbackToSavePoint();
  next_sequence_ = saved_sequences_.back();
  saved_sequences_.pop_back();
}

void WriteTxn::PopSavePoint() {
  batch_.PopSavePoint();
  saved_sequences_.pop_back();
}

}  // namespace pulse::storage
