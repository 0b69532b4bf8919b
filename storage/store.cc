#include "storage/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/table.h"
#include "storage/apply_guard.h"
#include "storage/entity_body.h"
#include "storage/entity_rules.h"
#include "storage/flushed_log_prefetch.h"
#include "storage/ids.h"
#include "storage/rocks_status.h"
#include "storage/tombstone_filter.h"
#include "storage/validation.h"

namespace pulse::storage {

namespace pb = pulsedb::sync::v1;

namespace {

constexpr int64_t kFutureSkewMillis = 5 * 60 * 1000;

// Whether files in `directory` (created if missing) can be opened with O_DIRECT.
absl::Status CheckDirectIo(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create ", directory, ": ", error.message()));
  }
  const std::string probe = directory + "/.direct_io_probe";
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int open_errno = errno;
    return absl::FailedPreconditionError(absl::StrCat(
        "direct I/O for flushes asked for, but ", directory, " cannot open files with O_DIRECT (",
        std::strerror(open_errno), "): run without it (--direct_io_flush=false)"));
  }
  close(fd);
  unlink(probe.c_str());
  return absl::OkStatus();
}

const std::vector<std::string>& FamilyNames() {
  static const auto* names = new std::vector<std::string>{rocksdb::kDefaultColumnFamilyName,
                                                          kMetaFamily,
                                                          kCollectivesFamily,
                                                          kExperiencesFamily,
                                                          kRelationsFamily,
                                                          kInsightsFamily,
                                                          kRelationIndexFamily,
                                                          kTombstonesFamily,
                                                          kWalFamily,
                                                          kCursorsFamily,
                                                          kOriginsFamily,
                                                          kPeersFamily};
  return *names;
}

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

std::string OneLine(const google::protobuf::Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string out;
  printer.PrintToString(message, &out);
  return out;
}

}  // namespace

Store::Store(std::string directory, const StoreOptions& options)
    : directory_(std::move(directory)), options_(options) {}

Store::~Store() {
  StopWriter();
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (db_ != nullptr) db_->DestroyColumnFamilyHandle(handle);
  }
  if (db_ != nullptr) db_->Close();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& directory,
                                                   const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store(directory, options));
  if (absl::Status s = store->OpenDb(); !s.ok()) return s;
  store->StartWriter();
  return store;
}

absl::Status Store::LoadTombstoneFilter() {
  uint64_t estimate = 0;
  if (!db_->GetIntProperty(cf_.tombstones, "rocksdb.estimate-num-keys", &estimate)) estimate = 0;
  // Sizing only: an estimate below the truth makes the filter saturate sooner (then every
  // key is looked up), never answer wrong.
  auto filter = std::make_unique<TombstoneFilter>(static_cast<std::size_t>(estimate) * 2);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.tombstones));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    filter->Add(absl::string_view(it->key().data(), it->key().size()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "tombstone scan");
  tombstone_filter_ = std::move(filter);
  return absl::OkStatus();
}

absl::Status Store::OpenDb() {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Keep memory modest: many stores may live in one process (tests, tools).
  db_options.max_open_files = 256;
  db_options.keep_log_file_num = 4;
  // After a failed write (a full disk, an I/O error) RocksDB refuses writes and retries
  // its recovery in the background; retry often, so writes work again soon after the
  // cause is gone. Writes fail with UNAVAILABLE meanwhile (peers retry; reads go on).
  db_options.bgerror_resume_retry_interval = 100000;  // microseconds
  if (options_.file_system != nullptr) {
    env_ = rocksdb::NewCompositeEnv(options_.file_system);
    db_options.env = env_.get();
  }
  if (options_.direct_io_for_flush) {
    if (absl::Status s = CheckDirectIo(directory_); !s.ok()) return s;
    db_options.use_direct_io_for_flush_and_compaction = true;
    if (options_.prefetch_flushed_log) {
      // What a flush writes is then not in the page cache: read the log's new table
      // back into it in the background, for the peers that catch up on it.
      log_prefetch_ = std::make_shared<FlushedLogPrefetch>(kWalFamily);
      db_options.listeners.push_back(log_prefetch_);
    }
  }

  std::vector<std::string> existing;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, directory_, &existing);
  std::vector<std::string> names = FamilyNames();
  if (listed.ok()) {
    for (const std::string& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  // Families read by key (every applied change looks up its entity, tombstone, collective
  // and origin mark, most of them absent) get whole-key bloom filters, in the memtable and
  // in table files, so that a miss costs a hash probe rather than a skip-list or block
  // search. The log is only ever scanned.
  rocksdb::ColumnFamilyOptions point_lookups;
  point_lookups.memtable_prefix_bloom_size_ratio = 0.02;
  point_lookups.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  point_lookups.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The log is read in order, a page at a time, by every peer catching up: big blocks
  // (fewer block reads per page) and no compression (its bulk, the embeddings, does not
  // compress; trying costs CPU on every flush and compaction).
  rocksdb::ColumnFamilyOptions log_family;
  log_family.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions log_table;
  log_table.block_size = 64 << 10;
  log_family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(log_table));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    if (name == kWalFamily) {
      descriptors.emplace_back(name, log_family);
    } else if (name == rocksdb::kDefaultColumnFamilyName) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    } else {
      descriptors.emplace_back(name, point_lookups);
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, directory_, descriptors, &handles_, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open of ", directory_));
  db_.reset(raw);
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) by_name[handle->GetName()] = handle;
  cf_.meta = by_name[kMetaFamily];
  cf_.collectives = by_name[kCollectivesFamily];
  cf_.experiences = by_name[kExperiencesFamily];
  cf_.relations = by_name[kRelationsFamily];
  cf_.insights = by_name[kInsightsFamily];
  cf_.relation_index = by_name[kRelationIndexFamily];
  cf_.tombstones = by_name[kTombstonesFamily];
  cf_.wal = by_name[kWalFamily];
  cf_.cursors = by_name[kCursorsFamily];
  cf_.origins = by_name[kOriginsFamily];
  cf_.peers = by_name[kPeersFamily];
  if (absl::Status s = LoadTombstoneFilter(); !s.ok()) return s;

  auto read_meta = [&](absl::string_view key) -> absl::StatusOr<std::optional<std::string>> {
    std::string value;
    rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), cf_.meta, ToSlice(key), &value);
    if (st.IsNotFound()) return std::nullopt;
    if (!st.ok()) return FromRocks(st, "meta read");
    return value;
  };
  auto read_sequence = [&](absl::string_view key) -> absl::StatusOr<uint64_t> {
    absl::StatusOr<std::optional<std::string>> raw = read_meta(key);
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) return 0;
    return DecodeSequence(**raw);
  };

  absl::StatusOr<std::optional<std::string>> id = read_meta(kMetaInstanceId);
  if (!id.ok()) return id.status();
  if (id->has_value()) {
    if ((*id)->size() != kIdSize) {
      return absl::DataLossError(absl::StrCat("corrupt instance id in ", directory_));
    }
    instance_id_ = **id;
  } else {
    instance_id_ = NewUuidV7();
    rocksdb::WriteOptions write;
    write.sync = true;
    s = db_->Put(write, cf_.meta, kMetaInstanceId, instance_id_);
    if (!s.ok()) return FromRocks(s, "instance id write");
  }
  absl::StatusOr<uint64_t> head = read_sequence(kMetaHead);
  if (!head.ok()) return head.status();
  absl::StatusOr<uint64_t> compacted = read_sequence(kMetaCompactedThrough);
  if (!compacted.ok()) return compacted.status();
  // The newest log entry and the persisted head are written in one batch: they agree.
  std::unique_ptr<rocksdb::Iterator> last(db_->NewIterator(rocksdb::ReadOptions(), cf_.wal));
  last->SeekToLast();
  if (last->Valid()) {
    absl::StatusOr<uint64_t> newest =
        DecodeSequence(absl::string_view(last->key().data(), last->key().size()));
    if (!newest.ok()) return newest.status();
    if (*newest != *head) {
      return absl::DataLossError(
          absl::StrCat("change log ends at ", *newest, " but the store's head is ", *head));
    }
  }
  committed_head_ = *head;
  log_ = std::make_unique<RocksChangeLog>(db_.get(), cf_, *head, *compacted, options_.sync_writes);
  return absl::OkStatus();
}

std::string Store::instance_id() const {
  MutexLock lock(&id_mu_);
  return instance_id_;
}

absl::StatusOr<std::string> Store::Remint() {
  std::string fresh = NewUuidV7();
  absl::Status s = Commit([&](WriteTxn& txn) {
    txn.Put(cf_.meta, kMetaInstanceId, fresh);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  MutexLock lock(&id_mu_);
  instance_id_ = fresh;
  return fresh;
}

// ---------------------------------------------------------------------------
// Local writes
// ---------------------------------------------------------------------------

ApplyContext Store::LocalContext() const {
  ApplyContext context;
  context.mode = ApplyMode::kLocal;
  context.self_id = instance_id();
  context.authoritative_store = options_.authoritative;
  return context;
}

absl::StatusOr<LocalWrite> Store::CommitLocal(pb::SyncChange change, const LocalPrepare& prepare) {
  if (SyncApplyGuard::IsApplying()) {
    return absl::FailedPreconditionError(
        "local write while this thread applies remote changes (SyncApplyGuard held)");
  }
  const ApplyContext context = LocalContext();
  change.set_source_instance(context.self_id);
  if (change.timestamp() == 0) change.set_timestamp(NowMillis());
  LocalWrite result;
  result.id = PayloadEntityId(change.payload());
  absl::Status s = Commit(
      [&](WriteTxn& txn) -> absl::Status {
        change.set_sequence(txn.next_sequence());
        if (prepare) {
          if (absl::Status p = prepare(txn, change); !p.ok()) return p;
        }
        if (absl::Status v = ValidateChange(change); !v.ok()) return v;
        absl::StatusOr<StageResult> staged = StageChange(txn, change, context);
        if (!staged.ok()) return staged.status();
        result.sequence = staged->log_sequence;
        return absl::OkStatus();
      },
      /*durable=*/true, /*pipelined=*/true);
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<LocalWrite> Store::CreateCollective(pb::Collective collective) {
  if (collective.id().empty()) collective.set_id(NewUuidV7());
  const int64_t now = NowMillis();
  if (collective.created_at() == 0) collective.set_created_at(now);
  if (collective.updated_at() == 0) collective.set_updated_at(collective.created_at());
  pb::SyncChange change;
  change.set_collective_id(collective.id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_COLLECTIVE);
  *change.mutable_payload()->mutable_collective_created() = std::move(collective);
  return CommitLocal(std::move(change));
}

absl::StatusOr<LocalWrite> Store::CreateExperience(pb::Experience experience) {
  if (experience.id().empty()) experience.set_id(NewUuidV7());
  if (experience.timestamp() == 0) experience.set_timestamp(NowMillis());
  if (!experience.has_experience_type()) experience.mutable_experience_type()->mutable_generic();
  pb::SyncChange change;
  change.set_collective_id(experience.collective_id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_EXPERIENCE);
  change.set_timestamp(experience.timestamp());
  *change.mutable_payload()->mutable_experience_created() = std::move(experience);
  return CommitLocal(std::move(change));
}

absl::StatusOr<pb::SyncChange> Store::ChangeOfExisting(pb::SyncEntityType type,
                                                       absl::string_view id) const {
  absl::StatusOr<pb::VersionedEntity> current = GetExisting(type, id, EntityBody::kAsStored);
  if (!current.ok()) return current.status();
  pb::SyncChange change;
  change.set_collective_id(current->collective_id());
  change.set_entity_type(type);
  change.set_timestamp(NowMillis());
  return change;
}

absl::StatusOr<LocalWrite> Store::UpdateExperience(absl::string_view id,
                                                   pb::ExperienceUpdate update) {
  absl::StatusOr<pb::SyncChange> change = ChangeOfExisting(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
  if (!change.ok()) return change.status();
  pb::ExperienceUpdated* updated = change->mutable_payload()->mutable_experience_updated();
  updated->set_id(std::string(id));
  updated->set_timestamp(change->timestamp());
  *updated->mutable_update() = std::move(update);
  return CommitLocal(*std::move(change));
}

absl::StatusOr<LocalWrite> Store::ArchiveExperience(absl::string_view id) {
  absl::StatusOr<pb::SyncChange> change = ChangeOfExisting(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
  if (!change.ok()) return change.status();
  pb::ExperienceArchived* archived = change->mutable_payload()->mutable_experience_archived();
  archived->set_id(std::string(id));
  archived->set_timestamp(change->timestamp());
  return CommitLocal(*std::move(change));
}

absl::StatusOr<LocalWrite> Store::ReinforceExperience(absl::string_view id) {
  absl::StatusOr<pb::SyncChange> change = ChangeOfExisting(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
  if (!change.ok()) return change.status();
  const std::string self = instance_id();
  pb::ExperienceUpdated* updated = change->mutable_payload()->mutable_experience_updated();
  updated->set_id(std::string(id));
  updated->set_timestamp(change->timestamp());
  updated->mutable_update()->set_last_reinforced(change->timestamp());
  updated->mutable_update()->add_reinforcement()->set_instance_id(self);
  // The bucket carries its whole new value (a replay is harmless), read inside the commit
  // so that concurrent reinforcements on this instance all count.
  return CommitLocal(*std::move(change), [&](WriteTxn& txn, pb::SyncChange& c) -> absl::Status {
    absl::StatusOr<std::optional<pb::VersionedEntity>> latest =
        txn.LoadEntity(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
    if (!latest.ok()) return latest.status();
    if (!latest->has_value()) {
      return absl::NotFoundError(absl::StrCat("experience ", IdToText(id), " not found"));
    }
    uint32_t mine = 0;
    for (const pb::ReinforcementBucket& b : (*latest)->experience().reinforcement()) {
      if (b.instance_id() == self) mine = b.count();
    }
    if (mine == std::numeric_limits<uint32_t>::max()) {
      return absl::OutOfRangeError("this instance's reinforcement bucket is full");
    }
    c.mutable_payload()
        ->mutable_experience_updated()
        ->mutable_update()
        ->mutable_reinforcement(0)
        ->set_count(mine + 1);
    return absl::OkStatus();
  });
}

absl::StatusOr<LocalWrite> Store::Delete(pb::SyncEntityType type, absl::string_view id) {
  absl::StatusOr<pb::SyncChange> change = ChangeOfExisting(type, id);
  if (!change.ok()) return change.status();
  pb::EntityDeleted deleted;
  deleted.set_id(std::string(id));
  deleted.set_timestamp(change->timestamp());
  pb::SyncPayload* payload = change->mutable_payload();
  switch (type) {
    case pb::SYNC_ENTITY_TYPE_EXPERIENCE:
      *payload->mutable_experience_deleted() = std::move(deleted);
      break;
    case pb::SYNC_ENTITY_TYPE_RELATION:
      *payload->mutable_relation_deleted() = std::move(deleted);
      break;
    case pb::SYNC_ENTITY_TYPE_INSIGHT:
      *payload->mutable_insight_deleted() = std::move(deleted);
      break;
    default:
      return absl::InvalidArgumentError("collectives cannot be deleted");
  }
  return CommitLocal(*std::move(change));
}

absl::StatusOr<LocalWrite> Store::DeleteExperience(absl::string_view id) {
  return Delete(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
}

absl::StatusOr<LocalWrite> Store::CreateRelation(pb::Relation relation) {
  if (relation.id().empty()) relation.set_id(NewUuidV7());
  if (relation.created_at() == 0) relation.set_created_at(NowMillis());
  if (absl::Status s = ValidateRelation(relation); !s.ok()) return s;
  absl::StatusOr<pb::VersionedEntity> source =
      GetExisting(pb::SYNC_ENTITY_TYPE_EXPERIENCE, relation.source_id(), EntityBody::kAsStored);
  if (!source.ok()) return source.status();
  pb::SyncChange change;
  change.set_collective_id(source->collective_id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_RELATION);
  change.set_timestamp(relation.created_at());
  *change.mutable_payload()->mutable_relation_created() = std::move(relation);
  return CommitLocal(std::move(change));
}

absl::StatusOr<LocalWrite> Store::DeleteRelation(absl::string_view id) {
  return Delete(pb::SYNC_ENTITY_TYPE_RELATION, id);
}

absl::StatusOr<LocalWrite> Store::CreateInsight(pb::Insight insight) {
  if (insight.id().empty()) insight.set_id(NewUuidV7());
  const int64_t now = NowMillis();
  if (insight.created_at() == 0) insight.set_created_at(now);
  if (insight.updated_at() == 0) insight.set_updated_at(insight.created_at());
  pb::SyncChange change;
  change.set_collective_id(insight.collective_id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_INSIGHT);
  change.set_timestamp(insight.updated_at());
  *change.mutable_payload()->mutable_insight_created() = std::move(insight);
  return CommitLocal(std::move(change));
}

absl::StatusOr<LocalWrite> Store::DeleteInsight(absl::string_view id) {
  return Delete(pb::SYNC_ENTITY_TYPE_INSIGHT, id);
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

absl::StatusOr<std::optional<pb::VersionedEntity>> Store::ReadEntity(pb::SyncEntityType type,
                                                                     absl::string_view id,
                                                                     EntityBody body) const {
  rocksdb::ColumnFamilyHandle* family = cf_.ForEntity(type);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entity type ", type));
  }
  // A row that refers to its body in the log is read again when that entry is gone: a
  // compaction copied the body into the row before removing the entry (CompactWal).
  uint64_t missing_entry = 0;
  for (;;) {
    std::string raw;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family, ToSlice(id), &raw);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) return FromRocks(s, "entity read");
    pb::VersionedEntity entity;
    if (!entity.ParseFromString(raw)) {
      return absl::DataLossError(
          absl::StrCat("corrupt ", pb::SyncEntityType_Name(type), " record ", IdToText(id)));
    }
    if (body == EntityBody::kAsStored || !RefersToLoggedBody(entity)) return entity;
    const uint64_t sequence = entity.body_log_sequence();
    if (sequence == missing_entry) return MissingBodyError(id, sequence);
    absl::StatusOr<bool> found = FillBody(rocksdb::ReadOptions(), id, &entity);
    if (!found.ok()) return found.status();
    if (*found) return entity;
    missing_entry = sequence;
  }
}

absl::StatusOr<bool> Store::FillBody(const rocksdb::ReadOptions& read, absl::string_view id,
                                     pb::VersionedEntity* entity) const {
  std::string entry;
  rocksdb::Status s = db_->Get(read, cf_.wal, EncodeSequence(entity->body_log_sequence()), &entry);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "experience body read");
  if (absl::Status filled = FillBodyFromLogEntry(id, entry, entity); !filled.ok()) return filled;
  return true;
}

absl::Status Store::FillBodyAt(const rocksdb::ReadOptions& read, absl::string_view id,
                               pb::VersionedEntity* entity) const {
  if (!RefersToLoggedBody(*entity)) return absl::OkStatus();
  const uint64_t sequence = entity->body_log_sequence();
  absl::StatusOr<bool> found = FillBody(read, id, entity);
  if (!found.ok()) return found.status();
  if (!*found) return MissingBodyError(id, sequence);
  return absl::OkStatus();
}

absl::StatusOr<pb::VersionedEntity> Store::GetVersioned(pb::SyncEntityType type,
                                                        absl::string_view id) const {
  return GetExisting(type, id, EntityBody::kFilled);
}

absl::StatusOr<pb::VersionedEntity> Store::GetExisting(pb::SyncEntityType type,
                                                       absl::string_view id,
                                                       EntityBody body) const {
  if (absl::Status s = ValidateId(id, "id"); !s.ok()) return s;
  absl::StatusOr<std::optional<pb::VersionedEntity>> entity = ReadEntity(type, id, body);
  if (!entity.ok()) return entity.status();
  if (!entity->has_value()) {
    std::string name = pb::SyncEntityType_Name(type);
    name = absl::AsciiStrToLower(name.substr(name.rfind('_') + 1));
    return absl::NotFoundError(absl::StrCat(name, " ", IdToText(id), " not found"));
  }
  return std::move(**entity);
}

absl::StatusOr<pb::Collective> Store::GetCollective(absl::string_view id) const {
  absl::StatusOr<pb::VersionedEntity> e = GetVersioned(pb::SYNC_ENTITY_TYPE_COLLECTIVE, id);
  if (!e.ok()) return e.status();
  return std::move(*e->mutable_collective());
}

absl::StatusOr<pb::Experience> Store::GetExperience(absl::string_view id) const {
  absl::StatusOr<pb::VersionedEntity> e = GetVersioned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id);
  if (!e.ok()) return e.status();
  return std::move(*e->mutable_experience());
}

absl::StatusOr<pb::Relation> Store::GetRelation(absl::string_view id) const {
  absl::StatusOr<pb::VersionedEntity> e = GetVersioned(pb::SYNC_ENTITY_TYPE_RELATION, id);
  if (!e.ok()) return e.status();
  return std::move(*e->mutable_relation());
}

absl::StatusOr<pb::Insight> Store::GetInsight(absl::string_view id) const {
  absl::StatusOr<pb::VersionedEntity> e = GetVersioned(pb::SYNC_ENTITY_TYPE_INSIGHT, id);
  if (!e.ok()) return e.status();
  return std::move(*e->mutable_insight());
}

absl::StatusOr<std::vector<pb::Collective>> Store::ListCollectives() const {
  std::vector<pb::Collective> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.collectives));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::VersionedEntity entity;
    if (!entity.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt collective record");
    }
    out.push_back(std::move(*entity.mutable_collective()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "collective scan");
  return out;
}

absl::StatusOr<std::vector<pb::Experience>> Store::ListExperiences(
    absl::string_view collective_id) const {
  std::vector<pb::Experience> out;
  // Rows and the log entries they refer to, read from one point in time.
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf_.experiences));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::VersionedEntity entity;
    if (!entity.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt experience record");
    }
    if (!collective_id.empty() && entity.collective_id() != collective_id) continue;
    if (absl::Status s = FillBodyAt(read, ToView(it->key()), &entity); !s.ok()) return s;
    out.push_back(std::move(*entity.mutable_experience()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "experience scan");
  return out;
}

absl::StatusOr<bool> Store::IsTombstoned(pb::SyncEntityType type, absl::string_view id) const {
  std::string raw;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_.tombstones, EncodeTombstoneKey(type, id), &raw);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "tombstone read");
  return true;
}

// ---------------------------------------------------------------------------
// Remote changes
// ---------------------------------------------------------------------------

absl::Status Store::CheckEmbeddings(ChangeRefs changes) const {
  // Dimension of each collective seen so far: created in the batch, or read once from the
  // store (nullopt: unknown here). A batch is usually of one or a few collectives.
  absl::flat_hash_map<std::string, std::optional<uint32_t>> created_here;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const pb::SyncChange& change = changes[i];
    const pb::SyncPayload& p = change.payload();
    if (p.has_collective_created()) {
      created_here.insert_or_assign(p.collective_created().id(),
                                    p.collective_created().embedding_dimension());
      continue;
    }
    int size;
    std::string what;
    if (p.has_experience_created()) {
      size = p.experience_created().embedding_size();
      what = "experience";
    } else if (p.has_insight_created()) {
      size = p.insight_created().embedding_size();
      what = "insight";
    } else {
      continue;
    }
    auto known = created_here.find(change.collective_id());
    if (known == created_here.end()) {
      absl::StatusOr<std::optional<pb::VersionedEntity>> collective =
          ReadEntity(pb::SYNC_ENTITY_TYPE_COLLECTIVE, change.collective_id());
      if (!collective.ok()) return collective.status();
      std::optional<uint32_t> read;
      if (collective->has_value()) read = (*collective)->collective().embedding_dimension();
      known = created_here.emplace(change.collective_id(), read).first;
    }
    if (!known->second.has_value()) continue;  // unknown here: a failure at apply time
    const uint32_t dimension = *known->second;
    if (static_cast<uint32_t>(size) != dimension) {
      return absl::InvalidArgumentError(absl::StrCat(
          "change ", change.sequence(), ": ", what, " embedding has ", size, " values, collective ",
          IdToText(change.collective_id()), " expects ", dimension));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ApplyReport> Store::ApplyRemoteChanges(
    ChangeRefs changes, ApplyContext context, const std::optional<PullCursorUpdate>& pull_cursor) {
  std::shared_ptr<PendingApply> pending =
      StageRemoteChanges(changes, std::move(context), pull_cursor, /*after=*/nullptr,
                         /*wire=*/{}, /*write_here=*/true);
  return FinishApply(*pending);
}

std::shared_ptr<Store::PendingApply> Store::StageRemoteChanges(
    ChangeRefs changes, ApplyContext context, const std::optional<PullCursorUpdate>& pull_cursor,
    const PendingApply* after, absl::Span<const absl::string_view> wire, bool write_here) {
  context.self_id = instance_id();
  context.authoritative_store = options_.authoritative;
  SyncApplyGuard guard;
  ApplyReport report;
  const int64_t future_limit = NowMillis() + kFutureSkewMillis;
  const int total = static_cast<int>(changes.size());
  const int per_group =
      std::max(1, options_.changes_per_group > 0 ? options_.changes_per_group : total);
  uint64_t last_log_sequence = 0;
  bool stopped = false;    // a change could not apply: it and the rest are rejected
  bool abandoned = false;  // the write of an earlier part failed: nothing more is staged
  // A large batch is committed in parts of `per_group` changes, each submitted once the
  // one before is staged, so that a part is staged while the one before is written. Only
  // the last part is fsynced: that covers the earlier ones (one log).
  std::vector<std::shared_ptr<Writer>> parts;
  bool synced = false;  // the last part submitted is fsynced
  // Each part's log entries are encoded before it is submitted, on this thread, while the
  // part before is being written: not in the serial staging, which every writer of the
  // store waits for. A part's encodings are read by its stage only (done when Submit
  // returns), so one buffer serves every part.
  std::vector<PreEncodedChange> encoded;
  encoded.reserve(std::min(total, per_group));
  for (int begin = 0; begin == 0 || begin < total; begin += per_group) {
    const int end = std::min(total, begin + per_group);
    encoded.clear();
    for (int i = begin; i < end; ++i) {
      if (wire.size() == changes.size()) {
        encoded.emplace_back(changes[i], wire[i]);
      } else {
        encoded.emplace_back(changes[i]);
      }
    }
    const bool last = end == total;
    synced = last;
    // The part this one is staged on: the one before, or the last of the batch before.
    std::shared_ptr<Writer> previous = !parts.empty() ? parts.back()
                                       : after != nullptr && !after->parts_.empty()
                                           ? after->parts_.back()
                                           : nullptr;
    parts.push_back(Submit(
        [&, begin, end, last, previous](WriteTxn& txn) -> absl::Status {
          if (previous != nullptr) {
            // Staged on the database, not on the part before, when that one's write
            // has ended; had it failed, this part would skip its changes (and their
            // origin marks would hide them from the retry).
            if (absl::Status failed = WriteFailure(*previous); !failed.ok()) {
              abandoned = true;
              return failed;
            }
          }
          for (int i = begin; i < end; ++i) {
            const pb::SyncChange& change = changes[i];
            txn.SetSavePoint();
            absl::Status outcome =
                context.changes_validated ? absl::OkStatus() : ValidateChange(change);
            absl::StatusOr<StageResult> staged =
                outcome.ok() ? StageChange(txn, change, context, &encoded[i - begin])
                             : absl::StatusOr<StageResult>(outcome);
            if (!staged.ok()) {
              txn.RollbackToSavePoint();
              report.failed_index = i;
              report.failed_sequence = change.sequence();
              report.failure = staged.status();
              report.rejected = total - i;
              stopped = true;
              break;
            }
            txn.PopSavePoint();
            switch (staged->kind) {
              case StageResult::Kind::kApplied:
                ++report.applied;
                break;
              case StageResult::Kind::kDuplicate:
                ++report.duplicates;
                break;
              case StageResult::Kind::kSkipped:
                ++report.skipped;
                break;
              case StageResult::Kind::kConflict:
                ++report.conflicts;
                break;
            }
            if (change.timestamp() > future_limit ||
                (change.payload().has_experience_updated() &&
                 change.payload().experience_updated().update().last_reinforced() > future_limit)) {
              ++report.future_timestamps;
            }
            report.safe_through = change.sequence();
            last_log_sequence = change.log_sequence();
          }
          if ((last || stopped) && total > 0) {
            absl::StatusOr<uint64_t> mark = txn.OriginMark(changes[0].source_instance());
            if (!mark.ok()) {
              abandoned = true;
              return mark.status();
            }
            report.origin_mark = *mark;
          }
          if (pull_cursor.has_value() && (last || stopped)) {
            uint64_t through = pull_cursor->through;
            if (report.failed_index.has_value()) {
              // Stop just before the failed change: everything before it was applied or
              // was filtered out by the hub.
              const uint64_t failed_at = changes[*report.failed_index].log_sequence();
              through = failed_at > 0 ? failed_at - 1 : last_log_sequence;
            }
            if (through > 0) {
              if (absl::Status c =
                      txn.AdvanceCursor(pull_cursor->hub_id, CursorKind::kPull, through);
                  !c.ok()) {
                abandoned = true;
                return c;
              }
            }
          }
          return absl::OkStatus();
        },
        /*durable=*/last, /*pipelined=*/true,
        // The others are written while this thread stages the next.
        (last && write_here) ? WriteBy::kLeader : WriteBy::kWriterThread));
    // Submit returns once the part is staged: `stopped` and `abandoned` are its outcome.
    if (stopped || abandoned) break;
  }
  auto pending = std::make_shared<PendingApply>();
  pending->parts_ = std::move(parts);
  pending->report_ = std::move(report);
  pending->synced_ = synced;
  return pending;
}

absl::StatusOr<ApplyReport> Store::FinishApply(PendingApply& pending) {
  absl::Status status;
  for (const std::shared_ptr<Writer>& part : pending.parts_) {
    absl::Status s = Await(*part);
    if (status.ok()) status = s;
  }
  if (!status.ok()) return status;
  if (!pending.synced_ && options_.sync_writes) {
    // Stopped before the last part: what was applied is acknowledged, so it is synced,
    // and only then published (a synced group of its own: it rewrites the head mark).
    absl::Status s = Commit(
        [&](WriteTxn& txn) {
          txn.Put(cf_.meta, kMetaHead, EncodeSequence(txn.head()));
          return absl::OkStatus();
        },
        /*durable=*/true, /*pipelined=*/true);
    if (!s.ok()) return s;
  }
  return pending.report_;
}

absl::StatusOr<uint64_t> Store::OriginMark(absl::string_view origin) const {
  std::string raw;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_.origins, ToSlice(origin), &raw);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s, "origin mark read");
  return DecodeSequence(raw);
}

absl::StatusOr<std::vector<pb::OriginWatermark>> Store::ListOriginMarks() const {
  std::vector<pb::OriginWatermark> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.origins));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::StatusOr<uint64_t> seq =
        DecodeSequence(absl::string_view(it->value().data(), it->value().size()));
    if (!seq.ok()) return seq.status();
    pb::OriginWatermark mark;
    mark.set_instance_id(it->key().ToString());
    mark.set_sequence(*seq);
    out.push_back(std::move(mark));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "origin scan");
  return out;
}

// ---------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------

absl::Status Store::PutPeer(const pb::PeerInfo& peer) {
  if (absl::Status s = ValidateId(peer.instance_id(), "peer id"); !s.ok()) return s;
  return Commit([&](WriteTxn& txn) {
    txn.Put(cf_.peers, peer.instance_id(), peer.SerializeAsString());
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<pb::PeerInfo>> Store::ListPeers() const {
  std::vector<pb::PeerInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.peers));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    pb::PeerInfo peer;
    if (!peer.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt peer record");
    }
    out.push_back(std::move(peer));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "peer scan");
  return out;
}

// ---------------------------------------------------------------------------
// Inspection
// ---------------------------------------------------------------------------

absl::StatusOr<std::string> Store::CanonicalDump() const {
  std::vector<std::string> lines;
  const std::pair<const char*, rocksdb::ColumnFamilyHandle*> families[] = {
      {"collective", cf_.collectives},
      {"experience", cf_.experiences},
      {"relation", cf_.relations},
      {"insight", cf_.insights}};
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  for (const auto& [name, family] : families) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      pb::VersionedEntity entity;
      if (!entity.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(absl::StrCat("corrupt ", name, " record"));
      }
      if (absl::Status s = FillBodyAt(read, ToView(it->key()), &entity); !s.ok()) return s;
      // Versions and stamps are replica-specific bookkeeping; the entity is the state.
      pb::VersionedEntity state;
      switch (entity.entity_case()) {
        case pb::VersionedEntity::kCollective:
          *state.mutable_collective() = entity.collective();
          break;
        case pb::VersionedEntity::kExperience:
          *state.mutable_experience() = entity.experience();
          break;
        case pb::VersionedEntity::kRelation:
          *state.mutable_relation() = entity.relation();
          break;
        case pb::VersionedEntity::kInsight:
          *state.mutable_insight() = entity.insight();
          break;
        default:
          break;
      }
      lines.push_back(absl::StrCat(name, " ", IdToText(it->key().ToString()), " ", OneLine(state)));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "dump");
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

absl::StatusOr<std::string> Store::RawDump() const {
  std::string out;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      absl::StrAppend(&out, handle->GetName(), " ", absl::BytesToHexString(it->key().ToString()),
                      " ", absl::BytesToHexString(it->value().ToString()), "\n");
    }
    if (!it->status().ok()) return FromRocks(it->status(), "dump");
  }
  return out;
}

}  // namespace pulse::storage
