// Store: cursors, and compaction of the log by the oldest of them.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/change_header.h"
#include "storage/entity_body.h"
#include "storage/ids.h"
#include "storage/rocks_status.h"
#include "storage/store.h"

namespace pulse::storage {

namespace pb = pulsedb::sync::v1;

// ---------------------------------------------------------------------------
// Cursors and compaction
// ---------------------------------------------------------------------------

absl::StatusOr<std::optional<uint64_t>> Store::GetCursor(absl::string_view peer_id,
                                                         CursorKind kind) const {
  std::string raw;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_.cursors, EncodeCursorKey(peer_id, kind), &raw);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "cursor read");
  absl::StatusOr<uint64_t> value = DecodeSequence(raw);
  if (!value.ok()) return value.status();
  return *value;
}

absl::StatusOr<uint64_t> Store::AdvanceCursor(absl::string_view peer_id, CursorKind kind,
                                              uint64_t sequence, bool durable) {
  if (absl::Status s = ValidateId(peer_id, "peer id"); !s.ok()) return s;
  uint64_t after = sequence;
  absl::Status s = Commit(
      [&](WriteTxn& txn) -> absl::Status {
        absl::StatusOr<std::optional<uint64_t>> current = txn.Cursor(peer_id, kind);
        if (!current.ok()) return current.status();
        if (current->has_value() && **current >= sequence) {
          after = **current;
          return absl::OkStatus();
        }
        after = sequence;
        return txn.AdvanceCursor(peer_id, kind, sequence);
      },
      durable, /*pipelined=*/true);
  if (!s.ok()) return s;
  return after;
}

absl::StatusOr<std::vector<Store::CursorRecord>> Store::ListCursors() const {
  std::vector<CursorRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.cursors));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StatusOr<CursorKey> key =
        DecodeCursorKey(absl::string_view(it->key().data(), it->key().size()));
    if (!key.ok()) return key.status();
    absl::StatusOr<uint64_t> value =
        DecodeSequence(absl::string_view(it->value().data(), it->value().size()));
    if (!value.ok()) return value.status();
    out.push_back(CursorRecord{key->peer_id, key->kind, *value});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cursor scan");
  return out;
}

absl::StatusOr<uint64_t> Store::CompactWal(std::optional<uint64_t> retain_from,
                                           const absl::flat_hash_set<std::string>& ignore_peers) {
  absl::StatusOr<std::vector<CursorRecord>> cursors = ListCursors();
  if (!cursors.ok()) return cursors.status();
  std::optional<uint64_t> minimum;
  bool ignored_any = false;
  for (const CursorRecord& c : *cursors) {
    if (c.kind == CursorKind::kPull) continue;  // a position in another store's log
    if (ignore_peers.contains(c.peer_id)) {
      ignored_any = true;
      continue;
    }
    minimum = minimum.has_value() ? std::min(*minimum, c.sequence) : c.sequence;
  }
  // Only ignored peers hold cursors: nobody holds the log back any more.
  if (!minimum.has_value() && ignored_any) minimum = log_->Head();
  if (!minimum.has_value()) return 0;
  uint64_t through = *minimum;
  if (retain_from.has_value()) through = std::min(through, *retain_from > 0 ? *retain_from - 1 : 0);
  if (absl::Status s = CopyBodiesOutThrough(through); !s.ok()) return s;
  absl::StatusOr<uint64_t> removed = log_->CompactThrough(through);
  if (!removed.ok()) return removed.status();
  // Tombstones every peer has passed can go: no replay below the cursors can reach them.
  std::vector<std::string> dead;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.tombstones));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::Tombstone t;
    if (!t.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt tombstone record");
    }
    if (t.log_sequence() <= log_->OldestRetained() - 1) dead.push_back(it->key().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "tombstone scan");
  if (!dead.empty()) {
    absl::Status s = Commit([&](WriteTxn& txn) {
      for (const std::string& key : dead) txn.Delete(cf_.tombstones, key);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return *removed;
}

absl::Status Store::CopyBodiesOutThrough(uint64_t through) {
  // Entries up to the head are committed and never change, so they are read outside the
  // commit groups; each group then rewrites the rows that still refer to its entries.
  // Rows refer only to their own create, and a create appended after this starts gets a
  // sequence above `through`: once the groups are written, no row refers to an entry that
  // the compaction removes. A crash in between leaves whole rows and the entries, both valid.
  const uint64_t last = std::min(through, log_->Head());
  constexpr uint64_t kEntriesPerGroup = 1024;
  rocksdb::ReadOptions read;
  read.readahead_size = 1 << 20;
  for (uint64_t first = log_->OldestRetained(); first <= last; first += kEntriesPerGroup) {
    const uint64_t group_last = std::min(last, first + kEntriesPerGroup - 1);
    const std::string end = EncodeSequence(group_last + 1);
    rocksdb::Slice upper(end);
    read.iterate_upper_bound = &upper;
    absl::Status s = Commit(
        [&](WriteTxn& txn) -> absl::Status {
          // Made here: the stage may run on another writer's thread (the group leader).
          std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf_.wal));
          for (it->Seek(EncodeSequence(first)); it->Valid(); it->Next()) {
            const absl::string_view entry = ToView(it->value());
            ChangeHeader header;
            if (!ReadChangeHeader(entry, &header)) return absl::DataLossError("corrupt log entry");
            if (header.entity_type != pb::SYNC_ENTITY_TYPE_EXPERIENCE) continue;
            pb::SyncChange change;
            if (!change.ParseFromArray(entry.data(), static_cast<int>(entry.size()))) {
              return absl::DataLossError("corrupt log entry");
            }
            if (!change.payload().has_experience_created()) continue;
            const std::string id = change.payload().experience_created().id();
            absl::StatusOr<std::optional<pb::VersionedEntity>> row =
                txn.LoadEntity(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id, EntityBody::kAsStored);
            if (!row.ok()) return row.status();
            if (!row->has_value()) continue;  // deleted since
            // Rewritten by an update since, or created again after a remint: not this entry's.
            if ((*row)->body_log_sequence() != change.log_sequence()) continue;
            if (absl::Status f = FillBodyFromChange(id, change, &**row); !f.ok()) return f;
            txn.PutEntity(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id, **row);
          }
          if (!it->status().ok()) return FromRocks(it->status(), "log scan before compaction");
          return absl::OkStatus();
        },
        /*durable=*/false);  // the removal's synced write, later in RocksDB's WAL, syncs these
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Store::FlushMemtables() {
  rocksdb::FlushOptions options;
  options.wait = true;
  rocksdb::Status s = db_->Flush(options, handles_);
  if (!s.ok()) return FromRocks(s, "memtable flush");
  return absl::OkStatus();
}

absl::StatusOr<Store::DiskUsage> Store::GetDiskUsage() const {
  DiskUsage usage;
  const std::pair<const char*, uint64_t*> properties[] = {
      {"rocksdb.estimate-live-data-size", &usage.live_data_bytes},
      {"rocksdb.estimate-pending-compaction-bytes", &usage.pending_compaction_bytes}};
  for (const auto& [name, out] : properties) {
    if (!db_->GetAggregatedIntProperty(name, out)) {
      return absl::InternalError(absl::StrCat("RocksDB does not report ", name));
    }
  }
  return usage;
}

}  // namespace pulse::storage
