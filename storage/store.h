// Store: an embedded PulseDB-style database on RocksDB: collectives, experiences,
// relations and insights, with a change log, per-peer cursors and per-origin high-water
// marks, all in one RocksDB instance with a column family per concern (keys.h).
//
// Every write, local or remote, is one atomic WriteBatch holding the entity write, its
// log entry and (for remote changes) the origin's mark or (for pulls) the pull cursor.
// Concurrent writers are grouped, and groups pipelined (Commit): each group's batch is
// written with a single fsync (sync_writes) by its leader or the store's writer thread,
// and the log head is published only after a synced write (which covers the unsynced
// ones before it), so readers only ever see durable, gap-free log prefixes.
//
// Thread-safe. Errors are absl::Status: INVALID_ARGUMENT for bad input,
// NOT_FOUND / ALREADY_EXISTS / FAILED_PRECONDITION for state conflicts, UNAVAILABLE
// for I/O errors (nothing of the failed write is applied; a batch of remote changes
// committed in parts may keep its first parts, see ApplyRemoteChanges), INTERNAL or
// DATA_LOSS for corruption found while reading.
#ifndef PULSESYNC_STORAGE_STORE_H_
#define PULSESYNC_STORAGE_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/file_system.h"
#include "rocksdb/write_batch.h"
#include "storage/change_applier.h"
#include "storage/change_log.h"
#include "storage/column_families.h"
#include "storage/entity_body.h"
#include "storage/keys.h"
#include "storage/rocks_change_log.h"
#include "storage/write_txn.h"

namespace pulse::storage {

class FlushedLogPrefetch;
class TombstoneFilter;
class SnapshotReader;

struct StoreOptions {
  // fsync every commit before acknowledging it. false trades power-loss safety for speed
  // (a crash of the process alone loses nothing either way).
  bool sync_writes = true;
  // A hub's store: its own log positions version the entities it serves.
  bool authoritative = false;
  // Most writers one commit group takes.
  int max_group_size = 64;
  // ApplyRemoteChanges commits a batch in parts of at most this many changes, each staged
  // while the part before is written (0: the whole batch in one part).
  int changes_per_group = 128;
  // The file system RocksDB writes through; nullptr = the default one. Tests inject faults
  // (a full disk) here.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Memtable flushes and compactions write table files with O_DIRECT, not through the
  // page cache: under sustained ingest the kernel's copy of every flushed byte into the
  // page cache was a fifth of the hub's CPU (docs/benchmarks.md). What was just flushed
  // is then read back into memory in the background (prefetch_flushed_log), or read from
  // the disk when a peer asks for it. Open fails with FAILED_PRECONDITION when the
  // directory's file system cannot open files with O_DIRECT.
  bool direct_io_for_flush = false;
  // With direct_io_for_flush: after each flush of the log, the kernel is asked to read
  // the new table file into the page cache in the background (flushed_log_prefetch.h),
  // so that peers catching up on recent changes read memory, not the disk.
  bool prefetch_flushed_log = true;
};

// One local write's result: the entity id (assigned when the caller left it empty) and
// the log sequence of its change.
struct LocalWrite {
  std::string id;
  uint64_t sequence = 0;
};

// What ApplyRemoteChanges did with a batch.
struct ApplyReport {
  int applied = 0;            // written now
  int duplicates = 0;         // already applied earlier
  int skipped = 0;            // acknowledged without effect (exists, tombstoned, no effect)
  int conflicts = 0;          // lost the conflict rule (CRDT parts still merged)
  int rejected = 0;           // the first failure and everything after it
  int future_timestamps = 0;  // timestamps more than 5 minutes ahead of this clock
  // Origin sequence of the last change applied or acknowledged before the first failure.
  std::optional<uint64_t> safe_through;
  // Index, origin sequence and reason of the first change that could not apply.
  std::optional<int> failed_index;
  uint64_t failed_sequence = 0;
  absl::Status failure;
  // The exactly-once mark of the batch's origin (its first change's: a push carries one
  // origin) as this batch left it: what the hub acknowledges for it. Read in the batch's
  // own commit, so a batch of the same origin staged after it does not count.
  std::optional<uint64_t> origin_mark;
};

// Where a follower's pull cursor goes, in the same batch as the changes it covers.
struct PullCursorUpdate {
  std::string hub_id;
  // The position the whole batch covers (filtered entries included); used when every
  // change applied. On a failure the cursor stops just before the failed change.
  uint64_t through = 0;
};

// A batch of changes by reference, whatever holds them (a vector, a request's repeated
// field): no change, and no embedding, is copied.
class ChangeRefs {
 public:
  ChangeRefs(const std::vector<pulsedb::sync::v1::SyncChange>& changes) {  // NOLINT
    for (const auto& c : changes) refs_.push_back(&c);
  }
  ChangeRefs(const google::protobuf::RepeatedPtrField<pulsedb::sync::v1::SyncChange>&  // NOLINT
                 changes) {
    for (const auto& c : changes) refs_.push_back(&c);
  }
  std::size_t size() const { return refs_.size(); }
  const pulsedb::sync::v1::SyncChange& operator[](std::size_t i) const { return *refs_[i]; }

 private:
  std::vector<const pulsedb::sync::v1::SyncChange*> refs_;
};

struct SnapshotApplyReport {
  int entities = 0;    // written or merged
  int tombstones = 0;  // applied
  int skipped = 0;     // already present with a newer version, or deleted here
};

class Store {
 public:
  // Opens (creating if needed) the store in `directory`. On first open a UUID v7 instance
  // id is made and persisted.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& directory,
                                                     const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::string instance_id() const;
  const std::string& directory() const { return directory_; }
  const StoreOptions& options() const { return options_; }

  // Gives this store a new instance id, keeping its data and reinforcement buckets. For a
  // store copied as files: two stores sharing one id would share a G-counter bucket and
  // lose increments. Do it before the copy writes anything.
  absl::StatusOr<std::string> Remint();

  // ----- Local writes: this instance is the origin. FAILED_PRECONDITION while the calling
  // thread holds a SyncApplyGuard. An empty id is filled with a new UUID v7; timestamps
  // of 0 are filled with the current time.
  absl::StatusOr<LocalWrite> CreateCollective(pulsedb::sync::v1::Collective collective);
  absl::StatusOr<LocalWrite> CreateExperience(pulsedb::sync::v1::Experience experience);
  absl::StatusOr<LocalWrite> UpdateExperience(absl::string_view id,
                                              pulsedb::sync::v1::ExperienceUpdate update);
  absl::StatusOr<LocalWrite> ArchiveExperience(absl::string_view id);
  // Adds one to this instance's bucket of the experience's applications G-counter.
  absl::StatusOr<LocalWrite> ReinforceExperience(absl::string_view id);
  absl::StatusOr<LocalWrite> DeleteExperience(absl::string_view id);
  absl::StatusOr<LocalWrite> CreateRelation(pulsedb::sync::v1::Relation relation);
  absl::StatusOr<LocalWrite> DeleteRelation(absl::string_view id);
  absl::StatusOr<LocalWrite> CreateInsight(pulsedb::sync::v1::Insight insight);
  absl::StatusOr<LocalWrite> DeleteInsight(absl::string_view id);

  // ----- Reads. NOT_FOUND when absent (deleted entities are absent).
  absl::StatusOr<pulsedb::sync::v1::Collective> GetCollective(absl::string_view id) const;
  absl::StatusOr<pulsedb::sync::v1::Experience> GetExperience(absl::string_view id) const;
  absl::StatusOr<pulsedb::sync::v1::Relation> GetRelation(absl::string_view id) const;
  absl::StatusOr<pulsedb::sync::v1::Insight> GetInsight(absl::string_view id) const;
  absl::StatusOr<pulsedb::sync::v1::VersionedEntity> GetVersioned(
      pulsedb::sync::v1::SyncEntityType type, absl::string_view id) const;
  absl::StatusOr<std::vector<pulsedb::sync::v1::Collective>> ListCollectives() const;
  // Experiences of one collective (all collectives when empty).
  absl::StatusOr<std::vector<pulsedb::sync::v1::Experience>> ListExperiences(
      absl::string_view collective_id = "") const;
  absl::StatusOr<bool> IsTombstoned(pulsedb::sync::v1::SyncEntityType type,
                                    absl::string_view id) const;

  // ----- Remote changes.
  // Checks a batch against the store without writing: INVALID_ARGUMENT (naming the
  // change) for an embedding whose length differs from its collective's dimension, the
  // collective being known here or created earlier in the batch.
  absl::Status CheckEmbeddings(ChangeRefs changes) const;

  // Applies `changes` in order, exactly once each, under a SyncApplyGuard. The first
  // change that cannot apply stops the batch: it and everything after it are rejected
  // (report.failure says why); everything before is committed. `context.self_id` is
  // filled in. A non-OK status (an I/O error) means the batch may be partly written, in
  // order: applying it again applies the rest (each change applies exactly once).
  absl::StatusOr<ApplyReport> ApplyRemoteChanges(
      ChangeRefs changes, ApplyContext context,
      const std::optional<PullCursorUpdate>& pull_cursor = std::nullopt);

  // ApplyRemoteChanges in two steps, for a caller with batches to apply back to back
  // (the hub's PushStream): StageRemoteChanges returns once every part of the batch is
  // staged and queued to be written; its report() is then final, unless the write
  // fails. FinishApply waits for the write and returns what ApplyRemoteChanges would.
  // A batch staged `after` another (staged before it by the same caller, not necessarily
  // written yet) is staged on top of that one: should that one's write fail, this one
  // applies nothing and fails the same way, so a caller's batches are applied in order
  // or not at all from the first failure on. Every staged batch must be finished.
  // `wire`, when given, holds the bytes each change was parsed from (a push received
  // as bytes): the log stores them as they are when they are in serialized form
  // (PreEncodedChange), saving a serialization per change. They must outlive the call.
  // `write_here`: the caller is about to wait for this batch, so its last part is
  // written on the caller's thread when nothing is queued before it (no hand-off to the
  // writer thread and back); otherwise every part goes to the writer thread and the
  // caller can go on to stage its next batch at once.
  class PendingApply;
  std::shared_ptr<PendingApply> StageRemoteChanges(
      ChangeRefs changes, ApplyContext context,
      const std::optional<PullCursorUpdate>& pull_cursor = std::nullopt,
      const PendingApply* after = nullptr, absl::Span<const absl::string_view> wire = {},
      bool write_here = false);
  absl::StatusOr<ApplyReport> FinishApply(PendingApply& pending);

  // Highest applied sequence of `origin` (0 when none).
  absl::StatusOr<uint64_t> OriginMark(absl::string_view origin) const;
  absl::StatusOr<std::vector<pulsedb::sync::v1::OriginWatermark>> ListOriginMarks() const;

  // ----- Snapshots.
  // A consistent view of the entities (of `collectives`, all when empty), tombstones and
  // origin marks, and the log sequence it is consistent with.
  absl::StatusOr<std::unique_ptr<SnapshotReader>> OpenSnapshot(
      std::vector<std::string> collectives) const;
  // Merges a snapshot chunk received from `hub_id` (follower rules, see
  // change_applier.h); when chunk.done, the pull cursor moves to chunk.sequence. Only the
  // last chunk is fsynced (a crash before it leaves the cursor where it was, and the
  // snapshot is taken again).
  absl::StatusOr<SnapshotApplyReport> ApplySnapshotChunk(
      const pulsedb::sync::v1::SnapshotChunk& chunk, ApplyContext context,
      absl::string_view hub_id);

  // After every chunk of a snapshot from `hub_id` was applied: removes the local
  // experiences, relations and insights that the snapshot did not hold, among those this
  // store syncs with that hub (`synced.collectives` and `synced.entity_types`, each empty
  // = all; its other fields are not used). They were deleted on the hub while this store
  // was away and the hub has since compacted their deletes; keeping them would let a
  // returning peer keep (and update) what every other replica deleted. `received` holds
  // SnapshotEntityKey of every entity the snapshot held. Kept: this store's own creates
  // the hub has not acknowledged yet (its own log entries past its push cursor for
  // `hub_id`), whatever it does not sync (never sent, so never in a snapshot), and
  // collectives (never deleted). Each removal leaves a tombstone and is not logged (the
  // hub already forgot the delete). Returns how many entities were removed.
  absl::StatusOr<int> PruneAfterSnapshot(const absl::flat_hash_set<std::string>& received,
                                         const ScanFilter& synced, absl::string_view hub_id);
  // The key of an entity in PruneAfterSnapshot's `received` (empty for one without a body).
  static std::string SnapshotEntityKey(pulsedb::sync::v1::SyncEntityType type,
                                       absl::string_view id);
  static std::string SnapshotEntityKey(const pulsedb::sync::v1::VersionedEntity& entity);

  // After restoring a snapshot into an empty store: declares that the log's history up
  // to `sequence` is not available here, so a peer pulling from before it is told to
  // catch up with a snapshot instead of silently receiving nothing. FAILED_PRECONDITION
  // unless the log is empty. Not for concurrent use with writes.
  absl::Status MarkHistoryUnavailableThrough(uint64_t sequence);

  // ----- Log and cursors.
  ChangeLog& log() { return *log_; }
  const ChangeLog& log() const { return *log_; }

  absl::StatusOr<std::optional<uint64_t>> GetCursor(absl::string_view peer_id,
                                                    CursorKind kind) const;
  // Moves a cursor forward; a cursor never moves back, and an unchanged one is not
  // rewritten. Returns the cursor's value afterwards. With `durable` false the write does
  // not wait for an fsync of its own (sync_writes): it survives a crash of the process, and
  // a power loss only once a later durable commit synced the log. For cursors whose loss
  // is harmless: a hub's served cursors (compaction then keeps more).
  absl::StatusOr<uint64_t> AdvanceCursor(absl::string_view peer_id, CursorKind kind,
                                         uint64_t sequence, bool durable = true);
  struct CursorRecord {
    std::string peer_id;
    CursorKind kind;
    uint64_t sequence;
  };
  absl::StatusOr<std::vector<CursorRecord>> ListCursors() const;

  // The original's min-cursor compaction: with no push or served cursors nothing is
  // removed; otherwise log entries (and tombstones) at or below the smallest such cursor
  // are, further capped at `retain_from - 1` when given. Cursors of the peers in
  // `ignore_peers` (a hub's expired peers) do not count; when every cursor belongs to
  // one of them, the log is compacted up to the head (still capped by `retain_from`).
  // Returns how many log entries were removed. Idempotent.
  absl::StatusOr<uint64_t> CompactWal(std::optional<uint64_t> retain_from = std::nullopt,
                                      const absl::flat_hash_set<std::string>& ignore_peers = {});

  // RocksDB's own estimates, summed over the column families, for monitoring.
  struct DiskUsage {
    uint64_t live_data_bytes = 0;           // rocksdb.estimate-live-data-size
    uint64_t pending_compaction_bytes = 0;  // rocksdb.estimate-pending-compaction-bytes
  };
  // INTERNAL when RocksDB does not report a property.
  absl::StatusOr<DiskUsage> GetDiskUsage() const;
  // Writes every family's memtable to table files now and waits for it (RocksDB does so
  // by itself as memtables fill; tests and tools make it happen at a known point).
  absl::Status FlushMemtables();

  // ----- Peers that completed a handshake with this store acting as hub.
  // Inserts or replaces the record of peer.instance_id().
  absl::Status PutPeer(const pulsedb::sync::v1::PeerInfo& peer);
  absl::StatusOr<std::vector<pulsedb::sync::v1::PeerInfo>> ListPeers() const;

  // ----- Inspection (tests and tools).
  // Commit groups staged with something to write since open, and those of them staged on
  // top of a group that was still being written (Store::Commit's pipeline at work).
  uint64_t CommitGroups() const { return commit_groups_.load(std::memory_order_relaxed); }
  uint64_t PipelinedGroups() const { return pipelined_groups_.load(std::memory_order_relaxed); }
  // Time spent staging commit groups and writing them (RocksDB's write, with its fsync),
  // since open. Each is done one group at a time, so each total's growth per second of
  // wall time is how busy that step of the pipeline is (1 = saturated).
  absl::Duration CommitStageTime() const {
    return absl::Nanoseconds(stage_nanos_.load(std::memory_order_relaxed));
  }
  absl::Duration CommitWriteTime() const {
    return absl::Nanoseconds(write_nanos_.load(std::memory_order_relaxed));
  }
  // Entities as sorted text lines, without replica-specific bookkeeping (versions,
  // stamps, and tombstones, which each replica drops on its own schedule): two converged
  // replicas have equal dumps.
  absl::StatusOr<std::string> CanonicalDump() const;
  // Every key and value of every column family, hex encoded: byte-for-byte state.
  absl::StatusOr<std::string> RawDump() const;

 private:
  struct Writer;
  struct StagedGroup;

  Store(std::string directory, const StoreOptions& options);

  absl::Status OpenDb();
  // Builds tombstone_filter_ from the tombstone keys in the database (after OpenDb has
  // the families): sized for twice as many, so that it fills only after a while.
  absl::Status LoadTombstoneFilter();
  // Runs `stage` inside a commit group and writes the group. `stage` runs on the group
  // leader's thread; an error from it rolls back only its own writes. The group is
  // fsynced (sync_writes) when any of its writers is `durable`. Returns once the group
  // is written (and every group before it).
  //
  // Groups are pipelined: a group's leader stages it and queues it to be written by the
  // store's writer thread, and the next groups are staged on top of the ones not yet
  // written (WriteTxn's bases, up to kMaxUnwrittenGroups) while those are written
  // (RocksDB's WAL, memtables, fsync), so that staging and writing, each about half of a
  // commit, overlap. The writer goes straight on from one queued group to the next (no
  // wait for a leader's thread to be woken and hand it over), and a leader need not wait
  // for a write to end before the lead passes on: a group gathered while a large one was
  // being staged can be staged while the write before is still running. `pipelined`
  // says `stage` reads and writes only through its WriteTxn (no iterators or reads of its
  // own on the database); a group with any other writer waits until every group before
  // it is written and is staged alone on the database. When a group's write fails, every
  // group staged on it fails with the same error.
  absl::Status Commit(std::function<absl::Status(WriteTxn&)> stage, bool durable = true,
                      bool pipelined = false);
  // Who writes a group: the writer that led it (Commit: its caller waits for the write
  // anyway), or the store's writer thread (so that the caller can go on, to stage more).
  enum class WriteBy { kLeader, kWriterThread };
  // Commit in two steps: Submit returns once `stage` has run (its group is handed on to be
  // written, or written by this thread when it led the group and `write_by` is kLeader),
  // Await once the group is written. A caller may submit several stages in a row with
  // kWriterThread, each staged on top of the one before while that one is written.
  std::shared_ptr<Writer> Submit(std::function<absl::Status(WriteTxn&)> stage, bool durable,
                                 bool pipelined, WriteBy write_by);
  absl::Status Await(Writer& writer);
  // The error of `writer`'s group if its write has ended in one, else OK.
  absl::Status WriteFailure(Writer& writer);
  // With queue_mu_ held, by the front writer: stages a group and queues it; returns it
  // when `write_here` and no group is queued before it (the caller then writes it with
  // WriteGroup). A group queued behind others is written by the writer thread.
  std::shared_ptr<StagedGroup> LeadGroup(bool write_here);
  // The writer thread: writes each group handed to it, in order.
  void WriteLoop();
  // Writes a staged group and completes its writers (queue_mu_ not held).
  void WriteGroup(StagedGroup& group);
  // Gives a group's batch back for a later group, once no stage can read it any more.
  void RecycleBatch(StagedGroup& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  // Marks a written (or failed) group's writers done, with `written`'s error if any.
  void CompleteWriters(StagedGroup& group, const absl::Status& written)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  void StartWriter();
  void StopWriter();
  // Fills in this instance as origin, validates and commits a local change. `prepare`,
  // when given, adjusts the change inside the commit (seeing the group's writes).
  using LocalPrepare = std::function<absl::Status(WriteTxn&, pulsedb::sync::v1::SyncChange&)>;
  absl::StatusOr<LocalWrite> CommitLocal(pulsedb::sync::v1::SyncChange change,
                                         const LocalPrepare& prepare = nullptr);
  // A change aimed at an existing entity: its collective and type, stamped now. NOT_FOUND
  // when the entity is absent.
  absl::StatusOr<pulsedb::sync::v1::SyncChange> ChangeOfExisting(
      pulsedb::sync::v1::SyncEntityType type, absl::string_view id) const;
  absl::StatusOr<LocalWrite> Delete(pulsedb::sync::v1::SyncEntityType type, absl::string_view id);
  absl::StatusOr<std::optional<pulsedb::sync::v1::VersionedEntity>> ReadEntity(
      pulsedb::sync::v1::SyncEntityType type, absl::string_view id,
      EntityBody body = EntityBody::kFilled) const;
  // ReadEntity with the id checked and an absent entity NOT_FOUND (what GetVersioned is).
  absl::StatusOr<pulsedb::sync::v1::VersionedEntity> GetExisting(
      pulsedb::sync::v1::SyncEntityType type, absl::string_view id, EntityBody body) const;
  // Fills in the body of a row of experience `id` that refers to its log entry
  // (entity_body.h), reading as `read` says. FillBody: false when the entry is gone;
  // FillBodyAt (for reads from one snapshot, where it cannot be): DATA_LOSS then, and
  // nothing to do for a whole row.
  absl::StatusOr<bool> FillBody(const rocksdb::ReadOptions& read, absl::string_view id,
                                pulsedb::sync::v1::VersionedEntity* entity) const;
  absl::Status FillBodyAt(const rocksdb::ReadOptions& read, absl::string_view id,
                          pulsedb::sync::v1::VersionedEntity* entity) const;
  // Before log entries up to `through` are removed: copies each body still referred to
  // by its experience's row into the row (in commit groups of their own).
  absl::Status CopyBodiesOutThrough(uint64_t through);
  ApplyContext LocalContext() const;

  const std::string directory_;
  const StoreOptions options_;
  std::unique_ptr<rocksdb::Env> env_;                 // only with options_.file_system
  std::shared_ptr<FlushedLogPrefetch> log_prefetch_;  // only with direct_io_for_flush
  // Every tombstone key stored or staged (tombstone_filter.h); set up by OpenDb.
  std::unique_ptr<TombstoneFilter> tombstone_filter_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  ColumnFamilies cf_;
  std::unique_ptr<RocksChangeLog> log_;

  mutable Mutex id_mu_;
  std::string instance_id_ ABSL_GUARDED_BY(id_mu_);

  Mutex queue_mu_;
  // Writers waiting for a group; the front one leads the next group once no group is
  // being staged.
  std::deque<std::shared_ptr<Writer>> writers_ ABSL_GUARDED_BY(queue_mu_);
  bool staging_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Groups staged and not yet written, in order: the front one is being written, or is
  // next; each was staged on all those before it (the bases of the next group). Whoever
  // writes the front one hands the next to the writer thread (or fails every one, with
  // the same error) the moment that write ends. A leader stages while fewer than
  // kMaxUnwrittenGroups are queued: one being written and one waiting, so that a group
  // gathered while a large one was staged need not wait for the write under that one
  // (more would only hold more batches in memory).
  static constexpr std::size_t kMaxUnwrittenGroups = 3;
  std::deque<std::shared_ptr<StagedGroup>> unwritten_ ABSL_GUARDED_BY(queue_mu_);
  CondVar written_cv_;  // a group's write ended
  CondVar writer_cv_;   // a group was handed to the writer thread, or it is to stop
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread writer_thread_;
  std::atomic<uint64_t> commit_groups_{0};
  std::atomic<uint64_t> pipelined_groups_{0};
  std::atomic<int64_t> stage_nanos_{0};
  std::atomic<int64_t> write_nanos_{0};
  // After a failed write RocksDB refuses writes until it recovers. The commit leader asks
  // it to resume (at most every 100 ms); RocksDB may still refuse until the process is
  // restarted (its recovery can give up while the disk is full): writes then keep failing
  // with UNAVAILABLE, and reads keep working.
  void MaybeResume();

  // Written under queue_mu_ (or by a stage of a group staged alone, with nothing being
  // written). The head of the last group written.
  uint64_t committed_head_ = 0;
  // Batches of written groups, kept for the next groups (see RecycleBatch).
  std::vector<std::unique_ptr<rocksdb::WriteBatch>> spare_batches_ ABSL_GUARDED_BY(queue_mu_);
  // Only the thread writing a group touches these (one at a time, see WriteGroup).
  bool resume_needed_ = false;
  absl::Time last_resume_attempt_ = absl::InfinitePast();
};

// A batch staged by Store::StageRemoteChanges, to be finished with FinishApply.
class Store::PendingApply {
 public:
  // What staging decided: applied, duplicates, ..., and the first change that could not
  // apply. Final unless the write fails (FinishApply's status).
  const ApplyReport& report() const { return report_; }

 private:
  friend class Store;
  std::vector<std::shared_ptr<Writer>> parts_;
  ApplyReport report_;
  bool synced_ = false;  // the last part submitted is fsynced
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_STORE_H_
