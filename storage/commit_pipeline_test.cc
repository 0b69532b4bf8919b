// Store::Commit's pipeline: a group is staged on top of the group before it while that
// one is still being written. These tests hold the first group inside its WAL sync (a
// file system with a gate) so that the second is staged against an unwritten base, which
// no timing can otherwise guarantee.
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Eventually;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;
using ::pulse::testing::MakeRelation;
using ::pulse::testing::TempDir;

// Syncs of RocksDB's WAL files wait while the gate is held; on release they go on, or
// the first of them fails with an I/O error.
class WalGate {
 public:
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    fail_ = fail;
    cv_.notify_all();
  }
  // Waits (up to 30 s) until a sync is held at the gate.
  bool WaitUntilBlocked() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return blocked_ > 0; });
  }
  rocksdb::IOStatus Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    if (held_) {
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
      --blocked_;
    }
    if (!fail_) return rocksdb::IOStatus::OK();
    fail_ = false;
    return rocksdb::IOStatus::IOError("injected: WAL sync failed");
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool fail_ = false;
  int blocked_ = 0;
};

class GatedWal : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  GatedWal(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<WalGate> gate)
      : FSWritableFileOwnerWrapper(std::move(file)), gate_(std::move(gate)) {}
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = gate_->Pass(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = gate_->Pass(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  std::shared_ptr<WalGate> gate_;
};

class GatedFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit GatedFileSystem(std::shared_ptr<WalGate> gate)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), gate_(std::move(gate)) {}
  const char* Name() const override { return "GatedFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && absl::EndsWith(name, ".log")) {
      *result = std::make_unique<GatedWal>(std::move(*result), gate_);
    }
    return s;
  }

 private:
  std::shared_ptr<WalGate> gate_;
};

ApplyContext Authority() {
  ApplyContext c;
  c.mode = ApplyMode::kAuthority;
  c.conflict_resolution = pb::CONFLICT_RESOLUTION_SERVER_WINS;
  return c;
}

class CommitPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A peer's changes: 0 a collective, 1 an experience in it, 2 an update of it, 3 a
    // second experience, 4 a relation between the two, 5 the first one's delete.
    absl::StatusOr<std::unique_ptr<Store>> source = Store::Open(source_dir_.path() + "/db", {});
    ASSERT_TRUE(source.ok()) << source.status();
    absl::StatusOr<LocalWrite> collective = (*source)->CreateCollective(MakeCollective());
    ASSERT_TRUE(collective.ok()) << collective.status();
    absl::StatusOr<LocalWrite> experience =
        (*source)->CreateExperience(MakeExperience(collective->id, "first words"));
    ASSERT_TRUE(experience.ok()) << experience.status();
    experience_id_ = experience->id;
    pb::ExperienceUpdate update;
    update.set_importance(0.25f);
    ASSERT_TRUE((*source)->UpdateExperience(experience_id_, update).ok());
    absl::StatusOr<LocalWrite> other =
        (*source)->CreateExperience(MakeExperience(collective->id, "other words"));
    ASSERT_TRUE(other.ok()) << other.status();
    absl::StatusOr<LocalWrite> relation =
        (*source)->CreateRelation(MakeRelation(experience_id_, other->id));
    ASSERT_TRUE(relation.ok()) << relation.status();
    relation_id_ = relation->id;
    ASSERT_TRUE((*source)->DeleteExperience(experience_id_).ok());
    ScanRequest scan;
    scan.max_changes = 10;
    absl::StatusOr<ScanResult> changes = (*source)->log().Scan(scan);
    ASSERT_TRUE(changes.ok()) << changes.status();
    ASSERT_EQ(changes->changes.size(), 6u);
    changes_ = changes->changes;

    StoreOptions options;
    options.authoritative = true;
    options.sync_writes = true;  // every group syncs its WAL: where the gate holds it
    options.file_system = std::make_shared<GatedFileSystem>(gate_);
    absl::StatusOr<std::unique_ptr<Store>> hub = Store::Open(hub_dir_.path() + "/db", options);
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = *std::move(hub);
    absl::StatusOr<ApplyReport> created = hub_->ApplyRemoteChanges(Only(0), Authority());
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_EQ(created->applied, 1);
  }

  void ApplyNow(int change) {
    absl::StatusOr<ApplyReport> report = hub_->ApplyRemoteChanges(Only(change), Authority());
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->applied, 1) << report->failure;
  }

  // Applies change `first` and holds its group in the WAL sync; then applies `second`,
  // which the pipeline stages on top of the held group. Returns once the second group is
  // staged; the caller releases the gate and joins the threads.
  void StageOnHeldWrite(int first, int second) {
    gate_->Hold();
    first_ = std::thread(
        [this, first] { first_result_ = hub_->ApplyRemoteChanges(Only(first), Authority()); });
    ASSERT_TRUE(gate_->WaitUntilBlocked()) << "the first write never reached its WAL sync";
    const uint64_t before = hub_->PipelinedGroups();
    second_ = std::thread(
        [this, second] { second_result_ = hub_->ApplyRemoteChanges(Only(second), Authority()); });
    ASSERT_TRUE(Eventually([&] { return hub_->PipelinedGroups() > before; }))
        << "the second group was not staged while the first was being written";
  }

  // After StageOnHeldWrite: applies `third`, which the pipeline stages on top of both
  // unwritten groups (the held one, and the one queued behind it). Returns once staged.
  void StageThirdOnHeldWrites(int third) {
    const uint64_t before = hub_->PipelinedGroups();
    third_ = std::thread(
        [this, third] { third_result_ = hub_->ApplyRemoteChanges(Only(third), Authority()); });
    ASSERT_TRUE(Eventually([&] { return hub_->PipelinedGroups() > before; }))
        << "the third group was not staged while the first was being written";
  }

  std::vector<pb::SyncChange> Only(int i) const { return {changes_[i]}; }

  // Releases the gate and expects both held changes applied, once each.
  void ReleaseAndExpectBothApplied() {
    gate_->Release(false);
    Join();
    ASSERT_TRUE(first_result_.ok()) << first_result_.status();
    ASSERT_TRUE(second_result_.ok()) << second_result_.status();
    EXPECT_EQ(first_result_->applied, 1) << first_result_->failure;
    EXPECT_EQ(second_result_->applied, 1) << second_result_->failure;
  }

  void Join() {
    if (first_.joinable()) first_.join();
    if (second_.joinable()) second_.join();
    if (third_.joinable()) third_.join();
  }
  void TearDown() override {
    gate_->Release(false);
    Join();
  }

  TempDir source_dir_;
  TempDir hub_dir_;
  std::shared_ptr<WalGate> gate_ = std::make_shared<WalGate>();
  std::unique_ptr<Store> hub_;
  std::vector<pb::SyncChange> changes_;
  std::string experience_id_;
  std::string relation_id_;
  std::thread first_, second_, third_;
  absl::StatusOr<ApplyReport> first_result_ = absl::UnknownError("not run");
  absl::StatusOr<ApplyReport> second_result_ = absl::UnknownError("not run");
  absl::StatusOr<ApplyReport> third_result_ = absl::UnknownError("not run");
};

TEST_F(CommitPipelineTest, AGroupStagedOnAnUnwrittenOneSeesItsWrites) {
  StageOnHeldWrite(/*create*/ 1, /*update*/ 2);
  // The update was staged before the create reached the database: it found the
  // experience only in the group being written.
  ReleaseAndExpectBothApplied();

  absl::StatusOr<pb::VersionedEntity> read =
      hub_->GetVersioned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, experience_id_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->experience().importance(), 0.25f);
  EXPECT_EQ(read->experience().content(), "first words");
  // One log, in order, with no gap: 1 the collective, 2 the create, 3 the update.
  EXPECT_EQ(hub_->log().Head(), 3u);
  ScanRequest scan;
  scan.max_changes = 10;
  absl::StatusOr<ScanResult> log = hub_->log().Scan(scan);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->changes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(log->changes[i].log_sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(log->changes[i].sequence(), changes_[i].sequence());
  }
}

// The pipeline fails the update's group itself (Store::Commit); RocksDB, which refuses
// writes after a failed WAL sync until it is reopened, would refuse it as well.
TEST_F(CommitPipelineTest, WhenAWriteFailsTheGroupStagedOnItFailsAndWritesNothing) {
  StageOnHeldWrite(/*create*/ 1, /*update*/ 2);
  gate_->Release(/*fail=*/true);
  Join();
  EXPECT_FALSE(first_result_.ok());
  ASSERT_FALSE(second_result_.ok()) << "applied on top of a write that failed";
  EXPECT_EQ(second_result_.status().code(), first_result_.status().code());
  // Neither reached the database; the log still ends at the collective.
  EXPECT_EQ(hub_->log().Head(), 1u);
  EXPECT_EQ(hub_->GetVersioned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, experience_id_).status().code(),
            absl::StatusCode::kNotFound);
}

// A delete finds the relations of its experience through the relation index, which it
// scans: the scan must see the index entries of the group being written too.
TEST_F(CommitPipelineTest, ADeleteStagedOnAnUnwrittenRelationRemovesIt) {
  ApplyNow(1);
  ApplyNow(3);
  StageOnHeldWrite(/*relation*/ 4, /*delete*/ 5);
  ReleaseAndExpectBothApplied();
  EXPECT_EQ(hub_->GetExperience(experience_id_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hub_->GetRelation(relation_id_).status().code(), absl::StatusCode::kNotFound)
      << "the relation outlived its experience";
}

// The first parts of a batch are written without an fsync: nothing of them may be served
// (published) before the last part's fsync makes them durable, or a hub that loses power
// would have let peers' cursors pass sequences it then hands out again.
TEST_F(CommitPipelineTest, PartsWrittenBeforeTheLastAreNotPublishedUntilItsSync) {
  StoreOptions options;
  options.authoritative = true;
  options.sync_writes = true;
  options.changes_per_group = 2;
  options.file_system = std::make_shared<GatedFileSystem>(gate_);
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(hub_dir_.path() + "/parts", options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Store> store = *std::move(opened);
  std::vector<pb::SyncChange> batch(changes_.begin(), changes_.begin() + 5);
  gate_->Hold();
  first_ = std::thread([&] { first_result_ = store->ApplyRemoteChanges(batch, Authority()); });
  // Parts {0,1} and {2,3} are written unsynced; part {4}, the last, waits in its sync.
  ASSERT_TRUE(gate_->WaitUntilBlocked());
  EXPECT_EQ(store->log().Head(), 0u) << "entries served before they were durable";
  ScanRequest scan;
  scan.max_changes = 10;
  EXPECT_TRUE(store->log().Scan(scan)->changes.empty());
  gate_->Release(false);
  Join();
  ASSERT_TRUE(first_result_.ok()) << first_result_.status();
  EXPECT_EQ(first_result_->applied, 5);
  EXPECT_EQ(store->log().Head(), 5u);
}

// Two groups may wait unwritten while a third is staged: it reads through both.
TEST_F(CommitPipelineTest, AGroupStagedOnTwoUnwrittenOnesSeesBoth) {
  StageOnHeldWrite(/*create*/ 1, /*second create*/ 3);
  // The relation's endpoints are in the held group and in the one queued behind it.
  StageThirdOnHeldWrites(/*relation*/ 4);
  ReleaseAndExpectBothApplied();
  ASSERT_TRUE(third_result_.ok()) << third_result_.status();
  EXPECT_EQ(third_result_->applied, 1) << third_result_->failure;
  EXPECT_TRUE(hub_->GetRelation(relation_id_).ok());
  // 1 the collective, then the three groups in the order they were staged.
  EXPECT_EQ(hub_->log().Head(), 4u);
  ScanRequest scan;
  scan.max_changes = 10;
  absl::StatusOr<ScanResult> log = hub_->log().Scan(scan);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->changes.size(), 4u);
  const int expected[] = {0, 1, 3, 4};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(log->changes[i].log_sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(log->changes[i].sequence(), changes_[expected[i]].sequence());
  }
}

TEST_F(CommitPipelineTest, WhenAWriteFailsEveryGroupQueuedBehindItFails) {
  StageOnHeldWrite(/*create*/ 1, /*second create*/ 3);
  StageThirdOnHeldWrites(/*relation*/ 4);
  gate_->Release(/*fail=*/true);
  Join();
  ASSERT_FALSE(first_result_.ok());
  ASSERT_FALSE(second_result_.ok()) << "applied on top of a write that failed";
  ASSERT_FALSE(third_result_.ok()) << "applied on top of a write that failed";
  EXPECT_EQ(second_result_.status().code(), first_result_.status().code());
  EXPECT_EQ(third_result_.status().code(), first_result_.status().code());
  EXPECT_EQ(hub_->log().Head(), 1u);
  EXPECT_EQ(hub_->GetRelation(relation_id_).status().code(), absl::StatusCode::kNotFound);
}

// The relation index is overlaid from every unwritten group, not only the newest.
TEST_F(CommitPipelineTest, ADeleteFindsARelationTwoUnwrittenGroupsDown) {
  ApplyNow(1);
  ApplyNow(3);
  // The relation is held in its write; a local write of the hub's own is queued behind
  // it; the delete is staged on both.
  gate_->Hold();
  first_ = std::thread([this] { first_result_ = hub_->ApplyRemoteChanges(Only(4), Authority()); });
  ASSERT_TRUE(gate_->WaitUntilBlocked()) << "the relation's write never reached its WAL sync";
  const uint64_t before = hub_->PipelinedGroups();
  absl::StatusOr<LocalWrite> local = absl::UnknownError("not run");
  second_ = std::thread([this, &local] {
    local = hub_->CreateExperience(MakeExperience(changes_[1].collective_id(), "local words"));
  });
  ASSERT_TRUE(Eventually([&] { return hub_->PipelinedGroups() > before; }))
      << "the local write was not staged while the relation was being written";
  StageThirdOnHeldWrites(/*delete*/ 5);
  gate_->Release(false);
  Join();
  ASSERT_TRUE(first_result_.ok()) << first_result_.status();
  EXPECT_EQ(first_result_->applied, 1) << first_result_->failure;
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_TRUE(third_result_.ok()) << third_result_.status();
  EXPECT_EQ(third_result_->applied, 1) << third_result_->failure;
  EXPECT_EQ(hub_->GetRelation(relation_id_).status().code(), absl::StatusCode::kNotFound)
      << "the relation outlived its experience";
}

// A batch staged after another (StageRemoteChanges, as a push stream does) is staged on
// top of it while it is written, and fails with it.
class BatchAfterBatchTest : public CommitPipelineTest {
 protected:
  // Stages the create, held in its write, then the update after it; releases the gate.
  void StageBothAndRelease(bool fail) {
    gate_->Hold();
    // Every part goes to the writer thread, which the gate holds in the create's sync.
    create_ = hub_->StageRemoteChanges(Only(1), Authority());
    ASSERT_TRUE(gate_->WaitUntilBlocked()) << "the create's write never reached its WAL sync";
    // The update finds the experience only in the create's unwritten group.
    update_ = hub_->StageRemoteChanges(Only(2), Authority(), std::nullopt, create_.get());
    EXPECT_EQ(update_->report().applied, 1) << update_->report().failure;
    gate_->Release(fail);
  }
  std::shared_ptr<Store::PendingApply> create_, update_;
};

TEST_F(BatchAfterBatchTest, BothAreWrittenInOrder) {
  StageBothAndRelease(/*fail=*/false);
  absl::StatusOr<ApplyReport> created = hub_->FinishApply(*create_);
  absl::StatusOr<ApplyReport> updated = hub_->FinishApply(*update_);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(hub_->log().Head(), 3u);
  EXPECT_EQ(hub_->GetExperience(experience_id_)->importance(), 0.25f);
}

TEST_F(BatchAfterBatchTest, WhenTheFirstWriteFailsTheSecondAppliesNothing) {
  StageBothAndRelease(/*fail=*/true);
  absl::StatusOr<ApplyReport> created = hub_->FinishApply(*create_);
  absl::StatusOr<ApplyReport> updated = hub_->FinishApply(*update_);
  EXPECT_FALSE(created.ok());
  ASSERT_FALSE(updated.ok()) << "applied after a batch whose write failed";
  EXPECT_EQ(updated.status().code(), created.status().code());
  EXPECT_EQ(hub_->log().Head(), 1u);
}

// A batch larger than a group is committed in parts, each staged on the one before; the
// caller still gets one report, and the first change that cannot apply stops the batch
// whatever part it falls in.
class BatchInPartsTest : public CommitPipelineTest {
 protected:
  std::unique_ptr<Store> OpenFollower(const std::string& name) {
    StoreOptions options;
    options.changes_per_group = 2;
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open(hub_dir_.path() + "/" + name, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  static ApplyContext Follower() {
    ApplyContext c;
    c.mode = ApplyMode::kFollower;
    c.conflict_resolution = pb::CONFLICT_RESOLUTION_SERVER_WINS;
    return c;
  }
  const std::string hub_id_ = NewUuidV7();
};

TEST_F(BatchInPartsTest, AllPartsApplyUnderOneReportAndOneCursor) {
  std::unique_ptr<Store> peer = OpenFollower("whole");
  ASSERT_NE(peer, nullptr);
  absl::StatusOr<ApplyReport> report =
      peer->ApplyRemoteChanges(changes_, Follower(), PullCursorUpdate{hub_id_, 6});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, 6);  // in parts of 2: {collective, create}, {update, create}, ...
  EXPECT_EQ(report->rejected, 0);
  EXPECT_EQ(report->safe_through, changes_[5].sequence());
  EXPECT_EQ(peer->log().Head(), 6u);
  EXPECT_EQ(**peer->GetCursor(hub_id_, CursorKind::kPull), 6u);
  // The delete (part 3) found the relation created in part 2 and removed it.
  EXPECT_EQ(peer->GetRelation(relation_id_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BatchInPartsTest, TheFirstFailureStopsTheBatchWhateverPartItIsIn) {
  std::unique_ptr<Store> peer = OpenFollower("stopped");
  ASSERT_NE(peer, nullptr);
  // The update (index 2, opening the second part) names an experience nobody created.
  std::vector<pb::SyncChange> batch = changes_;
  batch[2].mutable_payload()->mutable_experience_updated()->set_id(NewUuidV7());
  absl::StatusOr<ApplyReport> report =
      peer->ApplyRemoteChanges(batch, Follower(), PullCursorUpdate{hub_id_, 6});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, 2);
  ASSERT_TRUE(report->failed_index.has_value());
  EXPECT_EQ(*report->failed_index, 2);
  EXPECT_EQ(report->rejected, 4);
  EXPECT_EQ(report->safe_through, batch[1].sequence());
  // Nothing after the failure was written, in its part or the next ones; the cursor stops
  // just before the failed change.
  EXPECT_EQ(peer->log().Head(), 2u);
  EXPECT_EQ(**peer->GetCursor(hub_id_, CursorKind::kPull), batch[2].log_sequence() - 1);
  EXPECT_EQ(peer->GetRelation(relation_id_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(peer->GetExperience(experience_id_).ok());
}

// Every kind of writer at once on one store with small parts, so that groups are staged
// on unwritten ones all the time: two origins' batches (pipelined, in parts), local
// writes (pipelined), cursor moves (pipelined, not fsynced) and peer records (staged
// alone). Afterwards the log is dense, every change is in it exactly once, and a
// follower replaying the log serially ends up with the same entities.
TEST(CommitPipelineStressTest, ConcurrentWritersKeepTheLogDenseAndEveryChangeOnce) {
  TempDir dir;
  auto open = [&](const std::string& name, StoreOptions options = {}) {
    options.sync_writes = false;  // the test is about ordering, not the disk
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.Sub(name), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  };
  // Two origins, each: a collective, 60 experiences, an update of each.
  std::vector<std::vector<pb::SyncChange>> origin_changes;
  std::vector<std::string> origin_ids;
  for (const char* name : {"a", "b"}) {
    std::unique_ptr<Store> origin = open(name);
    const std::string c = origin->CreateCollective(MakeCollective())->id;
    std::vector<std::string> ids;
    for (int i = 0; i < 60; ++i) ids.push_back(origin->CreateExperience(MakeExperience(c))->id);
    for (const std::string& id : ids) {
      pb::ExperienceUpdate update;
      update.set_importance(0.75f);
      ASSERT_TRUE(origin->UpdateExperience(id, update).ok());
    }
    ScanRequest scan;
    scan.max_changes = 1000;
    absl::StatusOr<ScanResult> all = origin->log().Scan(scan);
    ASSERT_TRUE(all.ok()) << all.status();
    origin_changes.push_back(all->changes);
    origin_ids.push_back(origin->instance_id());
  }

  StoreOptions hub_options;
  hub_options.authoritative = true;
  hub_options.changes_per_group = 3;
  std::unique_ptr<Store> hub = open("hub", hub_options);
  const std::string local_collective = hub->CreateCollective(MakeCollective())->id;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (const std::vector<pb::SyncChange>& changes : origin_changes) {
    threads.emplace_back([&, &changes = changes] {
      for (std::size_t begin = 0; begin < changes.size(); begin += 10) {
        std::vector<pb::SyncChange> batch(changes.begin() + begin,
                                          changes.begin() + std::min(changes.size(), begin + 10));
        absl::StatusOr<ApplyReport> report = hub->ApplyRemoteChanges(batch, Authority());
        if (!report.ok() || report->applied != static_cast<int>(batch.size())) failed = true;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 60; ++i) {
      if (!hub->CreateExperience(MakeExperience(local_collective)).ok()) failed = true;
    }
  });
  threads.emplace_back([&] {
    const std::string peer = NewUuidV7();
    for (uint64_t i = 1; i <= 100; ++i) {
      if (!hub->AdvanceCursor(peer, CursorKind::kServed, i, /*durable=*/false).ok()) failed = true;
    }
  });
  threads.emplace_back([&] {
    pb::PeerInfo peer;
    peer.set_instance_id(NewUuidV7());
    for (int i = 0; i < 40; ++i) {
      peer.set_last_seen(i);
      if (!hub->PutPeer(peer).ok()) failed = true;
    }
  });
  for (std::thread& t : threads) t.join();
  ASSERT_FALSE(failed.load());
  // How much the pipeline was at work (timing-dependent, so reported, not asserted).
  RecordProperty("pipelined_groups", static_cast<int>(hub->PipelinedGroups()));
  std::cerr << "groups staged on an unwritten group: " << hub->PipelinedGroups() << "\n";

  // 1 local collective + 60 local creates + 2 x 121 remote changes, each exactly once,
  // at log sequences 1..head with no gap.
  const uint64_t expected = 1 + 60 + 2 * 121;
  EXPECT_EQ(hub->log().Head(), expected);
  ScanRequest scan;
  scan.max_changes = 10000;
  absl::StatusOr<ScanResult> log = hub->log().Scan(scan);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->changes.size(), expected);
  std::map<std::string, uint64_t> last_of_origin;
  for (std::size_t i = 0; i < log->changes.size(); ++i) {
    const pb::SyncChange& change = log->changes[i];
    ASSERT_EQ(change.log_sequence(), i + 1);
    // Each origin's changes in its own order, none twice.
    uint64_t& last = last_of_origin[change.source_instance()];
    ASSERT_GT(change.sequence(), last) << "change " << i + 1;
    last = change.sequence();
  }
  for (int o = 0; o < 2; ++o) {
    EXPECT_EQ(last_of_origin[origin_ids[o]], origin_changes[o].back().sequence());
    EXPECT_EQ(*hub->OriginMark(origin_ids[o]), origin_changes[o].back().sequence());
  }

  // The log alone rebuilds the same entities.
  std::unique_ptr<Store> replica = open("replica");
  ApplyContext follower;
  follower.mode = ApplyMode::kFollower;
  follower.conflict_resolution = pb::CONFLICT_RESOLUTION_SERVER_WINS;
  absl::StatusOr<ApplyReport> replayed = replica->ApplyRemoteChanges(log->changes, follower);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->applied, static_cast<int>(expected));
  EXPECT_EQ(*replica->CanonicalDump(), *hub->CanonicalDump());
}

}  // namespace
}  // namespace pulse::storage
