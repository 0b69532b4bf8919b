#include "storage/snapshot_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/change_header.h"
#include "storage/entity_body.h"
#include "storage/keys.h"
#include "storage/rocks_status.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

// Stages, in order: the entity families, parents before children (experiences in two:
// whole rows, then rows that refer to their body in the log, read in log order so that
// the log is read sequentially, not once per row), then tombstones and origins.
constexpr int kExperienceStage = 1;
constexpr int kLoggedExperienceStage = 2;
constexpr int kTombstoneStage = 5;
constexpr int kOriginStage = 6;
constexpr int kStages = 7;

}  // namespace

SnapshotReader::SnapshotReader(rocksdb::DB* db, const ColumnFamilies& cf,
                               std::vector<std::string> collectives)
    : db_(db), cf_(cf), collectives_(std::move(collectives)) {
  // Looked up for every entity: a long list (a peer chooses it) by binary search.
  std::sort(collectives_.begin(), collectives_.end());
}

SnapshotReader::~SnapshotReader() {
  it_.reset();
  if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    rocksdb::DB* db, const ColumnFamilies& cf, std::vector<std::string> collectives,
    std::optional<uint64_t> durable_head) {
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader(db, cf, std::move(collectives)));
  reader->snapshot_ = db->GetSnapshot();
  // The head is read from the same snapshot as the data, so they agree exactly.
  rocksdb::ReadOptions read;
  read.snapshot = reader->snapshot_;
  std::string raw;
  rocksdb::Status s = db->Get(read, cf.meta, kMetaHead, &raw);
  if (s.ok()) {
    absl::StatusOr<uint64_t> head = DecodeSequence(raw);
    if (!head.ok()) return head.status();
    reader->sequence_ = *head;
    // The view may hold entries written but not yet synced (a batch's first parts); the
    // peer resumes pulling after what is durable, and meets those entries again then
    // (as duplicates: the view's origin marks hold them).
    if (durable_head.has_value()) reader->sequence_ = std::min(reader->sequence_, *durable_head);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "snapshot head read");
  }
  for (rocksdb::ColumnFamilyHandle* family :
       {cf.collectives, cf.experiences, cf.relations, cf.insights}) {
    uint64_t keys = 0;
    if (db->GetIntProperty(family, "rocksdb.estimate-num-keys", &keys)) {
      reader->estimated_entities_ += keys;
    }
  }
  reader->StartStage();
  return reader;
}

bool SnapshotReader::Wanted(absl::string_view collective_id) const {
  return collectives_.empty() ||
         std::binary_search(collectives_.begin(), collectives_.end(), collective_id);
}

void SnapshotReader::StartStage() {
  it_.reset();
  if (stage_ >= kStages) return;
  rocksdb::ColumnFamilyHandle* families[kStages] = {
      cf_.collectives, cf_.experiences, cf_.wal,    cf_.relations,
      cf_.insights,    cf_.tombstones,  cf_.origins};
  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  if (stage_ == kLoggedExperienceStage) read.readahead_size = 1 << 20;
  it_.reset(db_->NewIterator(read, families[stage_]));
  it_->SeekToFirst();
}

absl::StatusOr<std::optional<pb::VersionedEntity>> SnapshotReader::LoggedExperience() {
  const absl::string_view entry = ToView(it_->value());
  ChangeHeader header;
  if (!ReadChangeHeader(entry, &header))
    return absl::DataLossError("corrupt log entry in snapshot");
  if (header.entity_type != pb::SYNC_ENTITY_TYPE_EXPERIENCE) return std::nullopt;
  if (!Wanted(header.collective_id)) return std::nullopt;
  pb::SyncChange change;
  if (!change.ParseFromArray(entry.data(), static_cast<int>(entry.size()))) {
    return absl::DataLossError("corrupt log entry in snapshot");
  }
  if (!change.payload().has_experience_created()) return std::nullopt;
  const std::string id = change.payload().experience_created().id();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  std::string raw;
  rocksdb::Status s = db_->Get(read, cf_.experiences, ToSlice(id), &raw);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "snapshot read");
  pb::VersionedEntity entity;
  if (!entity.ParseFromString(raw)) return absl::DataLossError("corrupt entity record in snapshot");
  // Only the row whose body is this entry (not one rewritten whole since).
  if (entity.body_log_sequence() != change.log_sequence()) return std::nullopt;
  if (absl::Status f = FillBodyFromChange(id, change, &entity); !f.ok()) return f;
  return entity;
}

absl::StatusOr<bool> SnapshotReader::Next(std::size_t max_bytes, pb::SnapshotChunk* chunk,
                                          std::size_t alone_up_to) {
  chunk->Clear();
  if (done_) return false;
  std::size_t bytes = 0;
  alone_up_to = std::max(alone_up_to, max_bytes);
  // An item fits within max_bytes, or goes alone when it is larger (up to alone_up_to);
  // nothing follows an item that went alone (the chunk is then over max_bytes).
  const auto fits = [&](std::size_t size) {
    return bytes + size <= max_bytes || (bytes == 0 && size <= alone_up_to);
  };
  while (stage_ < kStages) {
    for (; it_->Valid(); it_->Next()) {
      const rocksdb::Slice value = it_->value();
      std::size_t size = 0;
      if (stage_ == kLoggedExperienceStage) {
        absl::StatusOr<std::optional<pb::VersionedEntity>> entity = LoggedExperience();
        if (!entity.ok()) return entity.status();
        if (!entity->has_value()) continue;
        size = (*entity)->ByteSizeLong() + 8;
        if (!fits(size)) break;
        *chunk->add_entities() = std::move(**entity);
      } else if (stage_ < kTombstoneStage) {
        pb::VersionedEntity entity;
        if (!entity.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return absl::DataLossError("corrupt entity record in snapshot");
        }
        if (!Wanted(entity.collective_id())) continue;
        // Sent in the next stage, with its body.
        if (stage_ == kExperienceStage && RefersToLoggedBody(entity)) continue;
        size = entity.ByteSizeLong() + 8;
        if (!fits(size)) break;
        *chunk->add_entities() = std::move(entity);
      } else if (stage_ == kTombstoneStage) {
        pb::Tombstone tombstone;
        if (!tombstone.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return absl::DataLossError("corrupt tombstone in snapshot");
        }
        if (!Wanted(tombstone.collective_id())) continue;
        size = tombstone.ByteSizeLong() + 8;
        if (!fits(size)) break;
        *chunk->add_tombstones() = std::move(tombstone);
      } else {
        absl::StatusOr<uint64_t> sequence =
            DecodeSequence(absl::string_view(value.data(), value.size()));
        if (!sequence.ok()) return sequence.status();
        pb::OriginWatermark mark;
        mark.set_instance_id(it_->key().ToString());
        mark.set_sequence(*sequence);
        size = mark.ByteSizeLong() + 8;
        if (!fits(size)) break;
        *chunk->add_origins() = std::move(mark);
      }
      bytes += size;
    }
    if (!it_->status().ok()) return FromRocks(it_->status(), "snapshot scan");
    if (it_->Valid()) {
      // The budget is full. One item that cannot fit even alone is an error.
      if (bytes == 0) {
        return absl::ResourceExhaustedError(absl::StrCat("a snapshot item of ", it_->value().size(),
                                                         " bytes exceeds the reply budget of ",
                                                         alone_up_to, " bytes"));
      }
      chunk->set_sequence(sequence_);
      return true;
    }
    ++stage_;
    StartStage();
  }
  done_ = true;
  chunk->set_done(true);
  chunk->set_sequence(sequence_);
  return false;
}

}  // namespace pulse::storage
