// Experiences stored once: the row refers to the create's log entry (entity_body.h).
// What must hold: every read returns the whole experience whatever the row holds, the
// row is small until compaction copies the body in, compaction never leaves a row
// pointing at a removed entry (also while readers run), snapshots carry the bodies, and
// a row whose entry vanished behind the store's back is DATA_LOSS, not a crash.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "storage/snapshot_reader.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;
using ::pulse::testing::TempDir;

constexpr uint32_t kDimension = 384;  // the workload's embeddings: 1.5 KB each

std::unique_ptr<Store> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(*store);
}

// Bytes of the value stored under `id` in the experiences family (0 when absent).
std::size_t RowBytes(const Store& store, const std::string& id) {
  const std::string prefix = absl::StrCat(kExperiencesFamily, " ", absl::BytesToHexString(id), " ");
  for (absl::string_view line : absl::StrSplit(*store.RawDump(), '\n')) {
    if (absl::StartsWith(line, prefix)) return (line.size() - prefix.size()) / 2;
  }
  return 0;
}

class EntityBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.Sub("db"));
    collective_ = store_->CreateCollective(MakeCollective("team", kDimension))->id;
  }
  std::string Create(const std::string& content = "lesson") {
    absl::StatusOr<LocalWrite> w =
        store_->CreateExperience(MakeExperience(collective_, content, kDimension));
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? w->id : "";
  }
  // Compacts the whole log: a peer's served cursor at the head.
  void CompactAll() {
    ASSERT_TRUE(
        store_->AdvanceCursor("0123456789abcdef", CursorKind::kServed, store_->log().Head()).ok());
    absl::StatusOr<uint64_t> removed = store_->CompactWal();
    ASSERT_TRUE(removed.ok()) << removed.status();
    ASSERT_EQ(store_->log().OldestRetained(), store_->log().Head() + 1);
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::string collective_;
};

TEST_F(EntityBodyTest, ACreatedExperienceIsStoredOnceAndReadWhole) {
  const std::string id = Create("the body lives in the log");
  EXPECT_LT(RowBytes(*store_, id), 200u);  // versioning fields only, no embedding
  absl::StatusOr<pb::Experience> read = store_->GetExperience(id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->id(), id);
  EXPECT_EQ(read->content(), "the body lives in the log");
  EXPECT_EQ(read->embedding_size(), static_cast<int>(kDimension));
  absl::StatusOr<std::vector<pb::Experience>> listed = store_->ListExperiences(collective_);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].SerializeAsString(), read->SerializeAsString());
}

TEST_F(EntityBodyTest, CompactionCopiesBodiesInBeforeRemovingTheirEntries) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(Create(absl::StrCat("lesson ", i)));
  const std::string before = *store_->CanonicalDump();
  CompactAll();
  for (const std::string& id : ids) {
    EXPECT_GT(RowBytes(*store_, id), kDimension * 4) << "the body is in the row now";
    absl::StatusOr<pb::Experience> read = store_->GetExperience(id);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->embedding_size(), static_cast<int>(kDimension));
  }
  EXPECT_EQ(*store_->CanonicalDump(), before);
  store_.reset();
  store_ = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(*store_->CanonicalDump(), before);
}

TEST_F(EntityBodyTest, UpdatedExperiencesAreWholeAndDeletedOnesAreSkippedByCompaction) {
  const std::string updated = Create();
  const std::string deleted = Create();
  const std::string untouched = Create();
  pb::ExperienceUpdate update;
  update.set_importance(0.9f);
  ASSERT_TRUE(store_->UpdateExperience(updated, update).ok());
  ASSERT_TRUE(store_->DeleteExperience(deleted).ok());
  EXPECT_GT(RowBytes(*store_, updated), kDimension * 4);  // an update writes it whole
  EXPECT_LT(RowBytes(*store_, untouched), 200u);
  const std::string before = *store_->CanonicalDump();
  CompactAll();
  EXPECT_EQ(*store_->CanonicalDump(), before);
  EXPECT_FLOAT_EQ(store_->GetExperience(updated)->importance(), 0.9f);
  EXPECT_EQ(store_->GetExperience(deleted).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EntityBodyTest, AnUpdateInTheSameBatchAsItsCreateReadsTheStagedEntry) {
  const std::string id = Create();
  ScanRequest all;
  all.max_changes = 1000;
  pb::ExperienceUpdate update;
  update.mutable_domain()->add_values("storage");
  ASSERT_TRUE(store_->UpdateExperience(id, update).ok());
  std::vector<pb::SyncChange> changes =
      store_->log().Scan(all)->changes;  // collective, create, update
  ASSERT_EQ(changes.size(), 3u);
  auto replica = OpenStore(dir_.Sub("replica"));
  ApplyContext follower;
  follower.mode = ApplyMode::kFollower;
  absl::StatusOr<ApplyReport> report = replica->ApplyRemoteChanges(changes, follower);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->failure.ok()) << report->failure;
  EXPECT_EQ(report->applied, 3);
  ASSERT_EQ(replica->GetExperience(id)->domain_size(), 1);
  EXPECT_EQ(replica->GetExperience(id)->domain(0), "storage");
  EXPECT_EQ(*replica->CanonicalDump(), *store_->CanonicalDump());
}

TEST_F(EntityBodyTest, ASnapshotCarriesTheBodiesOfRowsThatReferToTheLogAndOfWholeRows) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Create(absl::StrCat("early ", i)));
  CompactAll();  // these rows are whole now
  for (int i = 0; i < 6; ++i) ids.push_back(Create(absl::StrCat("late ", i)));  // these refer
  const std::string other = store_->CreateCollective(MakeCollective("other", kDimension))->id;
  ASSERT_TRUE(store_->CreateExperience(MakeExperience(other, "elsewhere", kDimension)).ok());

  auto peer = OpenStore(dir_.Sub("peer"));
  ApplyContext follower;
  follower.mode = ApplyMode::kFollower;
  absl::StatusOr<std::unique_ptr<SnapshotReader>> reader = store_->OpenSnapshot({});
  ASSERT_TRUE(reader.ok()) << reader.status();
  pb::SnapshotChunk chunk;
  int chunks = 0;
  for (bool more = true; more;) {
    absl::StatusOr<bool> next = (*reader)->Next(4000, &chunk);  // two experiences a chunk
    ASSERT_TRUE(next.ok()) << next.status();
    more = *next;
    ++chunks;
    for (const pb::VersionedEntity& e : chunk.entities()) {
      EXPECT_EQ(e.body_log_sequence(), 0u);
      EXPECT_NE(e.entity_case(), pb::VersionedEntity::ENTITY_NOT_SET);
    }
    ASSERT_TRUE(peer->ApplySnapshotChunk(chunk, follower, store_->instance_id()).ok());
  }
  EXPECT_GT(chunks, 6);
  EXPECT_EQ(*peer->CanonicalDump(), *store_->CanonicalDump());

  // One collective: only its experiences, whichever way they are stored.
  auto one = *store_->OpenSnapshot({other});
  ASSERT_FALSE(*one->Next(1 << 20, &chunk));
  ASSERT_EQ(chunk.entities_size(), 2);
  EXPECT_EQ(chunk.entities(1).experience().content(), "elsewhere");
}

TEST_F(EntityBodyTest, AnEntryRemovedBehindTheStoresBackIsDataLossNotACrash) {
  const std::string id = Create();
  // Compacting the log itself skips the copy that Store::CompactWal makes first.
  ASSERT_TRUE(store_->log().CompactThrough(store_->log().Head()).ok());
  EXPECT_EQ(store_->GetExperience(id).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->ListExperiences().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->CanonicalDump().status().code(), absl::StatusCode::kDataLoss);
  pb::ExperienceUpdate update;
  update.set_importance(0.1f);
  EXPECT_EQ(store_->UpdateExperience(id, update).status().code(), absl::StatusCode::kDataLoss);
  auto reader = *store_->OpenSnapshot({});
  pb::SnapshotChunk chunk;
  absl::Status snapshot;
  for (;;) {
    absl::StatusOr<bool> next = reader->Next(1 << 20, &chunk);
    if (!next.ok() || !*next) {
      snapshot = next.status();
      break;
    }
  }
  EXPECT_TRUE(snapshot.ok()) << "the row's body is gone: it is left out, never sent empty";
}

TEST_F(EntityBodyTest, AReceivedEntityClaimingALogBodyIsStoredWhole) {
  // body_log_sequence is storage-only; a sender that sets it anyway (with a body, or
  // without one) must not leave a row pointing into this store's log.
  const std::string id = Create("sent by a hub");
  auto peer = OpenStore(dir_.Sub("peer"));
  auto reader = *store_->OpenSnapshot({});
  pb::SnapshotChunk chunk;
  ASSERT_FALSE(*reader->Next(1 << 20, &chunk));
  for (pb::VersionedEntity& e : *chunk.mutable_entities()) e.set_body_log_sequence(12345);
  ApplyContext follower;
  follower.mode = ApplyMode::kFollower;
  ASSERT_TRUE(peer->ApplySnapshotChunk(chunk, follower, store_->instance_id()).ok());
  absl::StatusOr<pb::Experience> read = peer->GetExperience(id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->content(), "sent by a hub");
  EXPECT_GT(RowBytes(*peer, id), kDimension * 4);

  pb::SnapshotChunk bodiless;
  pb::VersionedEntity* e = bodiless.add_entities();
  e->set_body_log_sequence(1);
  e->set_collective_id(collective_);
  EXPECT_EQ(peer->ApplySnapshotChunk(bodiless, follower, store_->instance_id()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EntityBodyTest, WritesThatNeedNoBodyDoNotReadTheLog) {
  // Existence, collective and versions are in the row: relating and deleting experiences
  // work without their log entries (proven by removing those behind the store's back);
  // only an update, which merges into the body, needs it.
  const std::string a = Create();
  const std::string b = Create();
  ASSERT_TRUE(store_->log().CompactThrough(store_->log().Head()).ok());
  absl::StatusOr<LocalWrite> related = store_->CreateRelation(pulse::testing::MakeRelation(a, b));
  EXPECT_TRUE(related.ok()) << related.status();
  absl::StatusOr<LocalWrite> deleted = store_->DeleteExperience(a);
  EXPECT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(store_->GetRelation(related->id).status().code(), absl::StatusCode::kNotFound);
  pb::ExperienceUpdate update;
  update.set_importance(0.3f);
  EXPECT_EQ(store_->UpdateExperience(b, update).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(EntityBodyTest, ReadersRacingCompactionAlwaysGetWholeExperiences) {
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(Create());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (const std::string& id : ids) {
        absl::StatusOr<pb::Experience> e = store_->GetExperience(id);
        ASSERT_TRUE(e.ok()) << e.status();
        ASSERT_EQ(e->embedding_size(), static_cast<int>(kDimension));
        reads.fetch_add(1);
      }
    }
  });
  // Compacts in steps of ten entries while the reader runs.
  for (uint64_t through = 10; through <= store_->log().Head(); through += 10) {
    ASSERT_TRUE(store_->AdvanceCursor("0123456789abcdef", CursorKind::kServed, through).ok());
    ASSERT_TRUE(store_->CompactWal().ok());
  }
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace pulse::storage
