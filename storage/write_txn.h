// WriteTxn: everything one commit group writes, staged in a RocksDB WriteBatch, with an
// index of the staged keys so that reads inside the group see the group's own writes,
// plus the log sequences the group assigns. (A hash index of where each staged value sits
// in the batch: RocksDB's WriteBatchWithIndex costs a skip-list search that re-decodes
// batch records on every comparison, a third of the hub's apply time; see
// docs/benchmarks.md.) Internal to storage/. Used by one thread at a time (the commit leader); not
// thread-safe. Borrows the DB and handles, which must outlive it. Read errors and corrupt
// values come back as absl::Status (INTERNAL for corruption), never as a crash.
//
// A group may be staged on top of groups staged before it and not yet written
// (Store::Commit pipelines them): reads then see this group's writes, then the base
// groups' from the newest to the oldest, then the database. The bases are only read,
// never changed, and must stay alive and unchanged until DetachBases() (or the end of
// this transaction).
#ifndef PULSESYNC_STORAGE_WRITE_TXN_H_
#define PULSESYNC_STORAGE_WRITE_TXN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/change_encoding.h"
#include "storage/column_families.h"
#include "storage/entity_body.h"
#include "storage/keys.h"
#include "storage/tombstone_filter.h"

namespace pulse::storage {

class WriteTxn {
 public:
  // `head` is the last committed log sequence; appended changes get head+1, head+2, ...
  // Stages into `batch` (borrowed, cleared first): the store hands groups batches kept
  // from earlier ones, so that a buffer grown to the size of a group is written again
  // rather than grown by reallocation and faulted in afresh (a 500-change push is 0.9 MB).
  // `bases`, when given, are the staged and not yet written groups before this one, the
  // oldest first, and `head` the last one's head. `tombstones` (borrowed; may be null)
  // is the store's filter of tombstone keys: every key staged into the tombstone family
  // is added to it, and IsTombstoned looks up only keys it may contain.
  WriteTxn(rocksdb::DB* db, const ColumnFamilies& cf, uint64_t head, rocksdb::WriteBatch* batch,
           std::vector<const WriteTxn*> bases = {}, TombstoneFilter* tombstones = nullptr);
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  // Raw access. Get returns nullopt when the key is absent.
  absl::StatusOr<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* cf,
                                                 absl::string_view key);
  void Put(rocksdb::ColumnFamilyHandle* cf, absl::string_view key, absl::string_view value);
  void Delete(rocksdb::ColumnFamilyHandle* cf, absl::string_view key);

  // Entities, stored as VersionedEntity. LoadEntity returns the whole entity, its body
  // read from the log when the row refers to it, or the row as stored (entity_body.h,
  // EntityBody); PutEntity stores what it
  // is given: a whole entity, or a row with body_log_sequence set and no body.
  absl::StatusOr<std::optional<pulsedb::sync::v1::VersionedEntity>> LoadEntity(
      pulsedb::sync::v1::SyncEntityType type, absl::string_view id,
      EntityBody body = EntityBody::kFilled);
  void PutEntity(pulsedb::sync::v1::SyncEntityType type, absl::string_view id,
                 const pulsedb::sync::v1::VersionedEntity& entity);
  void DeleteEntity(pulsedb::sync::v1::SyncEntityType type, absl::string_view id);
  // An empty entity to build a row in and hand to PutEntity: one message reused for the
  // whole group (its strings keep their buffers), rather than one made and freed per
  // change. Valid until the next call.
  pulsedb::sync::v1::VersionedEntity& ScratchEntity();

  // The embedding dimension of collective `id`; nullopt when there is no such collective.
  // A push of 500 experiences names the same collective 500 times: each is read and
  // parsed once per group (kept until a write of that collective or a rollback).
  absl::StatusOr<std::optional<uint32_t>> CollectiveDimension(absl::string_view id);

  absl::StatusOr<bool> IsTombstoned(pulsedb::sync::v1::SyncEntityType type, absl::string_view id);
  void PutTombstone(const pulsedb::sync::v1::Tombstone& tombstone);

  // Relation ids whose source or target is `experience_id` (batch writes included).
  absl::StatusOr<std::vector<std::string>> RelationsTouching(absl::string_view experience_id);
  void IndexRelation(const pulsedb::sync::v1::Relation& relation);
  void UnindexRelation(const pulsedb::sync::v1::Relation& relation);

  // Stages `change` as the next log entry, with its log_sequence set to the sequence it
  // gets, which is returned. The change itself is not copied. `encoded`, when given and
  // ready, is `change` encoded beforehand: its bytes are used rather than serializing.
  uint64_t AppendChange(const pulsedb::sync::v1::SyncChange& change,
                        const PreEncodedChange* encoded = nullptr);
  // The sequence the next appended change will get.
  uint64_t next_sequence() const { return next_sequence_; }
  // Last sequence assigned (the head once committed).
  uint64_t head() const { return next_sequence_ - 1; }
  bool has_appended() const { return next_sequence_ != first_sequence_; }

  // Highest applied sequence of `origin` (0 when none). A batch of 500 changes of one
  // origin moves its mark 500 times: the marks are kept here and staged once each, by
  // StageOriginMarks, rather than written (and inserted into the memtable) per change.
  absl::StatusOr<uint64_t> OriginMark(absl::string_view origin);
  void SetOriginMark(absl::string_view origin, uint64_t sequence);
  // Stages the marks set since the last call into the batch. Call before writing it.
  void StageOriginMarks();

  absl::StatusOr<std::optional<uint64_t>> Cursor(absl::string_view peer_id, CursorKind kind);
  // Moves the cursor to `sequence` if that is forward; writes nothing otherwise.
  absl::Status AdvanceCursor(absl::string_view peer_id, CursorKind kind, uint64_t sequence);

  // Undo points covering both the batch and the assigned sequences.
  void SetSavePoint();
  void RollbackToSavePoint();
  void PopSavePoint();

  // Stops reading through to the base groups (call when this group is staged and its
  // bases may go away).
  void DetachBases() { bases_.clear(); }

  bool empty() { return batch_.Count() == 0; }
  rocksdb::WriteBatch* batch() { return &batch_; }
  const ColumnFamilies& cf() const { return cf_; }

 private:
  // Where the latest staged write of a key left it: its value's bytes in batch_.Data(),
  // or deleted.
  struct Staged {
    bool deleted = false;
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  // A staged key: the column family's id, then the key.
  static std::string IndexKey(rocksdb::ColumnFamilyHandle* cf, absl::string_view key);
  // The staged write of `index_key` in this group (not its bases), or null.
  const Staged* FindStaged(const std::string& index_key) const;
  // `keys` (relation_index keys -> present) overlaid with this group's staged ones that
  // start with `prefix`.
  void OverlayRelations(absl::string_view prefix, std::map<std::string, bool>& keys) const;
  void Stage(rocksdb::ColumnFamilyHandle* cf, absl::string_view key, const Staged& staged);
  // Put of a value given in pieces (copied once, into the batch).
  void PutPieces(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
                 const std::array<absl::string_view, 3>& pieces);

  rocksdb::DB* db_;
  ColumnFamilies cf_;
  rocksdb::WriteBatch& batch_;
  std::vector<const WriteTxn*> bases_;  // the oldest first
  TombstoneFilter* const tombstones_;   // may be null
  absl::flat_hash_map<std::string, Staged> staged_;
  // relation_index keys staged (true = put, false = deleted), ordered for prefix scans.
  std::map<std::string, bool> staged_relations_;
  // Origin marks set and not yet staged into the batch.
  absl::flat_hash_map<std::string, uint64_t> origin_marks_;
  // CollectiveDimension's answers.
  absl::flat_hash_map<std::string, std::optional<uint32_t>> collective_dimensions_;
  // Reused for every row the group builds and serializes (ScratchEntity, PutEntity).
  pulsedb::sync::v1::VersionedEntity entity_scratch_;
  std::string row_scratch_;
  // Undo log of staged_ and staged_relations_: the previous entry of each key written.
  struct Undo {
    std::string index_key;
    std::optional<Staged> previous;
    bool relation = false;
    std::optional<bool> previous_relation;
    bool origin_mark = false;  // index_key is then the origin, previous_mark its mark
    std::optional<uint64_t> previous_mark;
  };
  std::vector<Undo> undo_;
  struct SavePoint {
    uint64_t next_sequence;
    std::size_t undo_size;
  };
  uint64_t first_sequence_;
  uint64_t next_sequence_;
  std::vector<SavePoint> save_points_;
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_WRITE_TXN_H_
