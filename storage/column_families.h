// The column-family handles of one open store, by concern. A plain struct of borrowed
// pointers owned by Store; safe to share between threads (RocksDB handles are).
#ifndef PULSESYNC_STORAGE_COLUMN_FAMILIES_H_
#define PULSESYNC_STORAGE_COLUMN_FAMILIES_H_

#include "pulsedb/sync/v1/sync.pb.h"
#include "rocksdb/db.h"

namespace pulse::storage {

struct ColumnFamilies {
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* collectives = nullptr;
  rocksdb::ColumnFamilyHandle* experiences = nullptr;
  rocksdb::ColumnFamilyHandle* relations = nullptr;
  rocksdb::ColumnFamilyHandle* insights = nullptr;
  rocksdb::ColumnFamilyHandle* relation_index = nullptr;
  rocksdb::ColumnFamilyHandle* tombstones = nullptr;
  rocksdb::ColumnFamilyHandle* wal = nullptr;
  rocksdb::ColumnFamilyHandle* cursors = nullptr;
  rocksdb::ColumnFamilyHandle* origins = nullptr;
  rocksdb::ColumnFamilyHandle* peers = nullptr;

  // The family holding entities of `type`; nullptr for a value the protocol lacks.
  rocksdb::ColumnFamilyHandle* ForEntity(pulsedb::sync::v1::SyncEntityType type) const {
    switch (type) {
      case pulsedb::sync::v1::SYNC_ENTITY_TYPE_EXPERIENCE:
        return experiences;
      case pulsedb::sync::v1::SYNC_ENTITY_TYPE_RELATION:
        return relations;
      case pulsedb::sync::v1::SYNC_ENTITY_TYPE_INSIGHT:
        return insights;
      case pulsedb::sync::v1::SYNC_ENTITY_TYPE_COLLECTIVE:
        return collectives;
      default:
        return nullptr;
    }
  }
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_COLUMN_FAMILIES_H_
