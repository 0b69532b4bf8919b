#include "storage/store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "absl/time/clock.h"
#include "common/status_payloads.h"
#include "gtest/gtest.h"
#include "storage/apply_guard.h"
#include "storage/ids.h"
#include "storage/snapshot_reader.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;
using ::pulse::testing::MakeInsight;
using ::pulse::testing::MakeRelation;
using ::pulse::testing::TempDir;

std::unique_ptr<Store> OpenStore(const std::string& path, StoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(*store);
}

std::vector<pb::SyncChange> AllChanges(const Store& store, uint64_t after = 0) {
  ScanRequest request;
  request.after = after;
  request.max_changes = 100000;
  absl::StatusOr<ScanResult> result = store.log().Scan(request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->changes : std::vector<pb::SyncChange>{};
}

// Changes `source` made itself, as it would push them.
std::vector<pb::SyncChange> OwnChanges(const Store& source, uint64_t after = 0) {
  ScanRequest request;
  request.after = after;
  request.max_changes = 100000;
  request.filter.only_origin = source.instance_id();
  absl::StatusOr<ScanResult> result = source.log().Scan(request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->changes : std::vector<pb::SyncChange>{};
}

ApplyContext Follower(pb::ConflictResolution rule = pb::CONFLICT_RESOLUTION_SERVER_WINS) {
  ApplyContext c;
  c.mode = ApplyMode::kFollower;
  c.conflict_resolution = rule;
  return c;
}

ApplyContext Authority(pb::ConflictResolution rule = pb::CONFLICT_RESOLUTION_SERVER_WINS) {
  ApplyContext c;
  c.mode = ApplyMode::kAuthority;
  c.conflict_resolution = rule;
  return c;
}

ApplyReport Apply(Store& target, const std::vector<pb::SyncChange>& changes,
                  ApplyContext context = Authority()) {
  absl::StatusOr<ApplyReport> report = target.ApplyRemoteChanges(changes, context);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : ApplyReport{};
}

class StoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// Of the pages of every table file in `dir`, how many are in the page cache, and how
// many there are.
std::pair<long, long> CachedTablePages(const std::string& dir) {
  const long page = sysconf(_SC_PAGESIZE);
  long cached = 0;
  long total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sst") continue;
    const std::size_t size = entry.file_size();
    if (size == 0) continue;
    const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) continue;
    std::vector<unsigned char> resident((size + page - 1) / page);
    if (mincore(map, size, resident.data()) == 0) {
      for (unsigned char r : resident) cached += r & 1;
      total += static_cast<long>(resident.size());
    }
    munmap(map, size);
  }
  return {cached, total};
}

// With direct_io_for_flush, a flush writes its table files around the page cache (the
// kernel's copy into it was a quarter of a hub's CPU under sustained ingest), and then,
// unless prefetch_flushed_log is off, has the kernel read the log's new table back into it
// in the background; without direct I/O they are in it at once. Every way the data reads
// back, then and after a reopen.
TEST_F(StoreTest, DirectIoFlushesWriteTableFilesAroundThePageCacheThenPrefetchTheLog) {
  enum class Mode { kBuffered, kDirect, kDirectPrefetched };
  for (const Mode mode : {Mode::kBuffered, Mode::kDirect, Mode::kDirectPrefetched}) {
    const char* name = mode == Mode::kBuffered ? "buffered"
                       : mode == Mode::kDirect ? "direct"
                                               : "direct_prefetched";
    SCOPED_TRACE(name);
    const std::string path = dir_.Sub(name);
    StoreOptions options;
    options.sync_writes = false;
    options.direct_io_for_flush = mode != Mode::kBuffered;
    options.prefetch_flushed_log = mode == Mode::kDirectPrefetched;
    std::string id;
    {
      absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
      if (mode != Mode::kBuffered &&
          store.status().code() == absl::StatusCode::kFailedPrecondition) {
        GTEST_SKIP() << "no O_DIRECT here: " << store.status();
      }
      ASSERT_TRUE(store.ok()) << store.status();
      const std::string c = (*store)->CreateCollective(MakeCollective())->id;
      // 8 MB of log: far more than the tail RocksDB reads back (buffered) when it opens a
      // table file it has just written.
      for (int i = 0; i < 2000; ++i) {
        pb::Experience experience = MakeExperience(c);
        experience.set_content(std::string(4000, static_cast<char>('a' + i % 26)));
        absl::StatusOr<LocalWrite> written = (*store)->CreateExperience(std::move(experience));
        ASSERT_TRUE(written.ok()) << written.status();
        id = written->id;
      }
      ASSERT_TRUE((*store)->FlushMemtables().ok());
      auto [cached, total] = CachedTablePages(path);
      ASSERT_GT(total, 1000) << "the flush wrote too little";
      switch (mode) {
        case Mode::kBuffered:
          EXPECT_GT(cached, total / 2) << cached << " of " << total << " pages in the page cache";
          break;
        case Mode::kDirect:
          EXPECT_LT(cached, total / 4) << cached << " of " << total << " pages in the page cache";
          break;
        case Mode::kDirectPrefetched: {
          // The kernel reads in the background: wait for it, up to a deadline.
          const absl::Time deadline = absl::Now() + absl::Seconds(30);
          while (cached <= total / 2 && absl::Now() < deadline) {
            absl::SleepFor(absl::Milliseconds(20));
            std::tie(cached, total) = CachedTablePages(path);
          }
          EXPECT_GT(cached, total / 2) << cached << " of " << total << " pages in the page cache";
          break;
        }
      }
      EXPECT_TRUE((*store)->GetExperience(id).ok());
    }
    std::unique_ptr<Store> reopened = OpenStore(path, options);
    absl::StatusOr<pb::Experience> read = reopened->GetExperience(id);
    ASSERT_TRUE(read.ok()) << read.status();
  }
}

// ----- Foundation: instance identity

TEST_F(StoreTest, InstanceIdPersistsAcrossReopen) {
  std::string first;
  {
    auto store = OpenStore(dir_.Sub("db"));
    first = store->instance_id();
    EXPECT_EQ(first.size(), kIdSize);
  }
  auto reopened = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(reopened->instance_id(), first);
}

TEST_F(StoreTest, InstanceIdIsUniquePerDatabase) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  EXPECT_NE(a->instance_id(), b->instance_id());
}

TEST_F(StoreTest, RemintGivesANewIdThatPersistsAndKeepsData) {
  std::string old_id, new_id, collective_id;
  {
    auto store = OpenStore(dir_.Sub("db"));
    old_id = store->instance_id();
    collective_id = store->CreateCollective(MakeCollective())->id;
    absl::StatusOr<std::string> minted = store->Remint();
    ASSERT_TRUE(minted.ok());
    new_id = *minted;
    EXPECT_NE(new_id, old_id);
    EXPECT_EQ(store->instance_id(), new_id);
  }
  auto reopened = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(reopened->instance_id(), new_id);
  EXPECT_TRUE(reopened->GetCollective(collective_id).ok());
}

// ----- Foundation: cursors

TEST_F(StoreTest, MissingCursorIsNone) {
  auto store = OpenStore(dir_.Sub("db"));
  absl::StatusOr<std::optional<uint64_t>> cursor = store->GetCursor(NewUuidV7(), CursorKind::kPull);
  ASSERT_TRUE(cursor.ok());
  EXPECT_FALSE(cursor->has_value());
}

TEST_F(StoreTest, CursorSaveLoadUpsertListAndPersist) {
  const std::string hub = NewUuidV7();
  const std::string peer = NewUuidV7();
  {
    auto store = OpenStore(dir_.Sub("db"));
    ASSERT_TRUE(store->AdvanceCursor(hub, CursorKind::kPush, 10).ok());
    ASSERT_TRUE(store->AdvanceCursor(hub, CursorKind::kPull, 4).ok());
    ASSERT_TRUE(store->AdvanceCursor(peer, CursorKind::kServed, 7).ok());
    // Upsert moves forward.
    EXPECT_EQ(*store->AdvanceCursor(hub, CursorKind::kPush, 12), 12u);
    EXPECT_EQ(**store->GetCursor(hub, CursorKind::kPush), 12u);
    // Push and pull are separate cursors.
    EXPECT_EQ(**store->GetCursor(hub, CursorKind::kPull), 4u);
    EXPECT_EQ(store->ListCursors()->size(), 3u);
  }
  auto reopened = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(**reopened->GetCursor(hub, CursorKind::kPush), 12u);
  EXPECT_EQ(**reopened->GetCursor(peer, CursorKind::kServed), 7u);
}

TEST_F(StoreTest, CursorsNeverMoveBackwardsAndUnchangedOnesAreNotRewritten) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string hub = NewUuidV7();
  ASSERT_TRUE(store->AdvanceCursor(hub, CursorKind::kPull, 9).ok());
  const std::string before = *store->RawDump();
  EXPECT_EQ(*store->AdvanceCursor(hub, CursorKind::kPull, 3), 9u);
  EXPECT_EQ(*store->AdvanceCursor(hub, CursorKind::kPull, 9), 9u);
  EXPECT_EQ(*store->RawDump(), before);
}

TEST_F(StoreTest, CursorWithMalformedPeerIdIsInvalidArgument) {
  auto store = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(store->AdvanceCursor("short", CursorKind::kPush, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ----- Foundation: echo-prevention guard

TEST(SyncApplyGuard, ResetsAfterAnExceptionUnwindsThroughIt) {
  EXPECT_FALSE(SyncApplyGuard::IsApplying());
  try {
    SyncApplyGuard guard;
    EXPECT_TRUE(SyncApplyGuard::IsApplying());
    throw std::runtime_error("apply failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(SyncApplyGuard::IsApplying());
}

TEST(SyncApplyGuard, IsPerThreadAndNests) {
  SyncApplyGuard outer;
  {
    SyncApplyGuard inner;
    EXPECT_TRUE(SyncApplyGuard::IsApplying());
  }
  EXPECT_TRUE(SyncApplyGuard::IsApplying());
  bool other_thread_sees = true;
  std::thread([&] { other_thread_sees = SyncApplyGuard::IsApplying(); }).join();
  EXPECT_FALSE(other_thread_sees);
}

TEST_F(StoreTest, LocalWritesAreRefusedUnderTheGuardSoNothingAppliedIsEchoed) {
  auto store = OpenStore(dir_.Sub("db"));
  SyncApplyGuard guard;
  EXPECT_EQ(store->CreateCollective(MakeCollective()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->log().Head(), 0u);
}

// ----- Foundation: every local write is logged

TEST_F(StoreTest, WalRecordsCreatesAndDeletesOfEveryEntityTypeWithDenseSequences) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string c = store->CreateCollective(MakeCollective())->id;
  const std::string e1 = store->CreateExperience(MakeExperience(c))->id;
  const std::string e2 = store->CreateExperience(MakeExperience(c))->id;
  const std::string r = store->CreateRelation(MakeRelation(e1, e2))->id;
  const std::string i = store->CreateInsight(MakeInsight(c))->id;
  ASSERT_TRUE(store->DeleteRelation(r).ok());
  ASSERT_TRUE(store->DeleteInsight(i).ok());
  std::vector<pb::SyncChange> log = AllChanges(*store);
  ASSERT_EQ(log.size(), 7u);
  const pb::SyncPayload::KindCase expected[] = {
      pb::SyncPayload::kCollectiveCreated, pb::SyncPayload::kExperienceCreated,
      pb::SyncPayload::kExperienceCreated, pb::SyncPayload::kRelationCreated,
      pb::SyncPayload::kInsightCreated,    pb::SyncPayload::kRelationDeleted,
      pb::SyncPayload::kInsightDeleted};
  for (size_t k = 0; k < log.size(); ++k) {
    EXPECT_EQ(log[k].payload().kind_case(), expected[k]) << k;
    EXPECT_EQ(log[k].log_sequence(), k + 1);
    EXPECT_EQ(log[k].sequence(), k + 1);  // local: origin sequence = log sequence
    EXPECT_EQ(log[k].source_instance(), store->instance_id());
    EXPECT_EQ(log[k].collective_id(), c);
  }
  EXPECT_EQ(log[3].entity_type(), pb::SYNC_ENTITY_TYPE_RELATION);
  EXPECT_EQ(log[4].entity_type(), pb::SYNC_ENTITY_TYPE_INSIGHT);
  EXPECT_EQ(log[0].entity_type(), pb::SYNC_ENTITY_TYPE_COLLECTIVE);
}

TEST_F(StoreTest, SequencesSurviveRestart) {
  std::string c;
  {
    auto store = OpenStore(dir_.Sub("db"));
    c = store->CreateCollective(MakeCollective())->id;
    ASSERT_TRUE(store->CreateExperience(MakeExperience(c)).ok());
  }
  auto store = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(store->log().Head(), 2u);
  EXPECT_EQ(store->CreateExperience(MakeExperience(c))->sequence, 3u);
}

TEST_F(StoreTest, CreatedThenDeletedEntityStaysInTheLogAsTwoChanges) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string c = store->CreateCollective(MakeCollective())->id;
  const std::string e = store->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(store->DeleteExperience(e).ok());
  std::vector<pb::SyncChange> log = AllChanges(*store, 1);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_TRUE(log[0].payload().has_experience_created());
  EXPECT_EQ(log[0].payload().experience_created().id(), e);
  EXPECT_EQ(log[0].payload().experience_created().content(), "lesson");
  EXPECT_TRUE(log[1].payload().has_experience_deleted());
  EXPECT_EQ(store->GetExperience(e).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, LocalWriteProblemsAreClearErrors) {
  auto store = OpenStore(dir_.Sub("db"));
  pb::Collective collective = MakeCollective();
  ASSERT_TRUE(store->CreateCollective(collective).ok());
  EXPECT_EQ(store->CreateCollective(collective).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->CreateExperience(MakeExperience(NewUuidV7())).status().code(),
            absl::StatusCode::kFailedPrecondition);  // unknown collective
  EXPECT_EQ(store->CreateExperience(MakeExperience(collective.id(), "x", 3)).status().code(),
            absl::StatusCode::kInvalidArgument);  // wrong embedding length
  EXPECT_EQ(store->GetExperience("bad").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->UpdateExperience(NewUuidV7(), {}).status().code(), absl::StatusCode::kNotFound);
  pb::Experience nan = MakeExperience(collective.id());
  nan.set_importance(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(store->CreateExperience(nan).status().code(), absl::StatusCode::kInvalidArgument);
  // None of the refused writes reached the log.
  EXPECT_EQ(store->log().Head(), 1u);
}

// ----- Remote apply: exactly once, tombstones, conflicts

TEST_F(StoreTest, RemoteChangesApplyAndEnterTheLogWithTheirOrigin) {
  auto a = OpenStore(dir_.Sub("a"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  ApplyReport report = Apply(*hub, OwnChanges(*a));
  EXPECT_EQ(report.applied, 2);
  EXPECT_EQ(*report.safe_through, 2u);
  EXPECT_TRUE(hub->GetExperience(e).ok());
  std::vector<pb::SyncChange> relayed = AllChanges(*hub);
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[1].source_instance(), a->instance_id());
  EXPECT_EQ(relayed[1].sequence(), 2u);
  EXPECT_EQ(*hub->OriginMark(a->instance_id()), 2u);
}

TEST_F(StoreTest, ReplayedChangeIsAcknowledgedAndNotAppliedTwice) {
  auto a = OpenStore(dir_.Sub("a"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  pb::ExperienceUpdate u;
  u.set_importance(0.1f);
  ASSERT_TRUE(a->UpdateExperience(e, u).ok());
  std::vector<pb::SyncChange> changes = OwnChanges(*a);
  Apply(*hub, changes);
  const std::string state = *hub->RawDump();
  ApplyReport replay = Apply(*hub, changes);
  EXPECT_EQ(replay.duplicates, 3);
  EXPECT_EQ(replay.applied, 0);
  EXPECT_EQ(*replay.safe_through, 3u);
  EXPECT_EQ(*hub->RawDump(), state);
}

TEST_F(StoreTest, ReplayedCreateAfterDeleteDoesNotResurrect) {
  auto a = OpenStore(dir_.Sub("a"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  std::vector<pb::SyncChange> create = OwnChanges(*a);
  ASSERT_TRUE(a->DeleteExperience(e).ok());
  Apply(*hub, OwnChanges(*a));
  EXPECT_EQ(hub->GetExperience(e).status().code(), absl::StatusCode::kNotFound);
  // The same create arriving from a different origin (say, a restored copy) is stopped by
  // the tombstone, not only by the origin's mark.
  auto b = OpenStore(dir_.Sub("b"));
  std::vector<pb::SyncChange> late = {create[1]};
  late[0].set_source_instance(b->instance_id());
  late[0].set_sequence(1);
  ApplyReport report = Apply(*hub, late);
  EXPECT_EQ(report.skipped, 1);
  EXPECT_EQ(hub->GetExperience(e).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(*hub->IsTombstoned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, e));
}

TEST_F(StoreTest, DeleteBeforeCreateLeavesATombstoneThatStopsTheLateCreate) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  Apply(*hub, OwnChanges(*a));
  Apply(*b, AllChanges(*hub), Follower());
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  std::vector<pb::SyncChange> a_changes = OwnChanges(*a, 1);
  // b learns of the experience and deletes it; b's delete reaches the hub first.
  Apply(*b, a_changes, Follower());
  ASSERT_TRUE(b->DeleteExperience(e).ok());
  Apply(*hub, OwnChanges(*b));
  ApplyReport late = Apply(*hub, a_changes);
  EXPECT_EQ(late.skipped, 1);
  EXPECT_EQ(hub->GetExperience(e).status().code(), absl::StatusCode::kNotFound);
}

// The store keeps an in-memory filter of its tombstone keys (tombstone_filter.h) and only
// looks up keys it may hold: one written before a reopen must be in the filter rebuilt at
// open, or the late create below would be applied.
TEST_F(StoreTest, ATombstoneWrittenBeforeAReopenStillStopsTheLateCreate) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const std::string hub_path = dir_.Sub("hub");
  std::vector<pb::SyncChange> a_changes;
  std::string e;
  {
    auto hub = OpenStore(hub_path);
    const std::string c = a->CreateCollective(MakeCollective())->id;
    Apply(*hub, OwnChanges(*a));
    Apply(*b, AllChanges(*hub), Follower());
    e = a->CreateExperience(MakeExperience(c))->id;
    a_changes = OwnChanges(*a, 1);
    Apply(*b, a_changes, Follower());
    ASSERT_TRUE(b->DeleteExperience(e).ok());
    Apply(*hub, OwnChanges(*b));  // the delete, before the create: a tombstone
  }
  auto hub = OpenStore(hub_path);
  ApplyReport late = Apply(*hub, a_changes);
  EXPECT_EQ(late.skipped, 1);
  EXPECT_EQ(late.applied, 0);
  EXPECT_EQ(hub->GetExperience(e).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, UpdateOfAnUnknownExperienceIsAFailureThatStopsTheBatch) {
  auto a = OpenStore(dir_.Sub("a"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  pb::ExperienceUpdate u;
  u.set_importance(0.2f);
  ASSERT_TRUE(a->UpdateExperience(e, u).ok());
  ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  std::vector<pb::SyncChange> changes = OwnChanges(*a);
  // The hub gets the collective, then the update without its create: seq 1 ok, 3 fails.
  std::vector<pb::SyncChange> gap = {changes[0], changes[2], changes[3]};
  ApplyReport report = Apply(*hub, gap);
  EXPECT_EQ(report.applied, 1);
  EXPECT_EQ(report.rejected, 2);
  ASSERT_TRUE(report.failed_index.has_value());
  EXPECT_EQ(*report.failed_index, 1);
  EXPECT_EQ(report.failed_sequence, 3u);
  EXPECT_EQ(report.failure.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*report.safe_through, 1u);
  EXPECT_EQ(*hub->OriginMark(a->instance_id()), 1u);
  EXPECT_EQ(hub->log().Head(), 1u);  // the change after the failure was not applied
}

TEST_F(StoreTest, EmbeddingOfTheWrongLengthIsRefusedBeforeAnythingIsWritten) {
  auto a = OpenStore(dir_.Sub("a"));
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  std::vector<pb::SyncChange> changes = OwnChanges(*a);
  changes[1].mutable_payload()->mutable_experience_created()->add_embedding(1.0f);
  absl::Status s = hub->CheckEmbeddings(changes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("change 2"), absl::string_view::npos) << s;
}

TEST_F(StoreTest, LastWriteWinsConvergesWithTheOriginTieBreak) {
  // Two writers x and y update the same field with the very same timestamp; replicas a and
  // b receive the two updates in opposite orders. Only the origin id can break the tie, and
  // it must pick the same winner on both (the larger origin id, whichever came first).
  auto x = OpenStore(dir_.Sub("x"));
  auto y = OpenStore(dir_.Sub("y"));
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const auto lww = Follower(pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS);
  const std::string c = x->CreateCollective(MakeCollective())->id;
  const std::string e = x->CreateExperience(MakeExperience(c))->id;
  const std::vector<pb::SyncChange> creates = OwnChanges(*x);
  for (Store* replica : {y.get(), a.get(), b.get()}) {
    ASSERT_EQ(Apply(*replica, creates, lww).applied, 2);
  }
  const uint64_t x_mark = x->log().Head();
  const uint64_t y_mark = y->log().Head();
  pb::ExperienceUpdate ux, uy;
  ux.set_importance(0.11f);
  uy.set_importance(0.22f);
  ASSERT_TRUE(x->UpdateExperience(e, ux).ok());
  ASSERT_TRUE(y->UpdateExperience(e, uy).ok());
  std::vector<pb::SyncChange> from_x = OwnChanges(*x, x_mark);
  std::vector<pb::SyncChange> from_y = OwnChanges(*y, y_mark);
  ASSERT_EQ(from_x.size(), 1u);
  ASSERT_EQ(from_y.size(), 1u);
  const int64_t same = std::max(from_x[0].timestamp(), from_y[0].timestamp());
  from_x[0].set_timestamp(same);
  from_y[0].set_timestamp(same);

  ApplyReport a_first = Apply(*a, from_x, lww);
  ApplyReport a_second = Apply(*a, from_y, lww);
  ApplyReport b_first = Apply(*b, from_y, lww);
  ApplyReport b_second = Apply(*b, from_x, lww);
  EXPECT_EQ(a_first.applied, 1);
  EXPECT_EQ(b_first.applied, 1);
  EXPECT_EQ(a_second.applied + a_second.conflicts, 1);
  EXPECT_EQ(b_second.applied + b_second.conflicts, 1);

  const float winner = x->instance_id() > y->instance_id() ? 0.11f : 0.22f;
  EXPECT_EQ(a->GetExperience(e)->importance(), winner);
  EXPECT_EQ(b->GetExperience(e)->importance(), winner);
}

TEST_F(StoreTest, ServerWinsHubRefusesAnUpdateMadeOnAStaleVersionButMergesReinforcement) {
  StoreOptions hub_options;
  hub_options.authoritative = true;
  auto hub = OpenStore(dir_.Sub("hub"), hub_options);
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  Apply(*hub, OwnChanges(*a));
  Apply(*b, AllChanges(*hub), Follower());  // b's versions are the hub's
  const uint64_t a_mark = a->log().Head();
  pb::ExperienceUpdate ua, ub;
  ua.set_importance(0.11f);
  ub.set_importance(0.22f);
  ASSERT_TRUE(a->UpdateExperience(e, ua).ok());
  ASSERT_TRUE(b->UpdateExperience(e, ub).ok());
  ASSERT_TRUE(b->ReinforceExperience(e).ok());
  Apply(*hub, OwnChanges(*a, a_mark));  // a's update reaches the hub first
  ApplyReport late = Apply(*hub, OwnChanges(*b));
  EXPECT_EQ(late.conflicts, 1);  // b's importance loses
  EXPECT_EQ(late.applied, 1);    // b's reinforcement still counts
  absl::StatusOr<pb::Experience> at_hub = hub->GetExperience(e);
  EXPECT_FLOAT_EQ(at_hub->importance(), 0.11f);
  EXPECT_EQ(at_hub->applications(), 1u);
  // b follows the hub and ends where the hub is.
  Apply(*b, AllChanges(*hub, 2), Follower());
  EXPECT_FLOAT_EQ(b->GetExperience(e)->importance(), 0.11f);
  EXPECT_EQ(b->GetExperience(e)->applications(), 1u);
}

// Found by the chaos test: with one stamp per entity, an update of `importance` and a
// concurrent archive could each win on a different replica, leaving them apart for good.
TEST_F(StoreTest, ConcurrentUpdatesOfDifferentFieldsBothSurviveEverywhere) {
  for (const auto rule :
       {pb::CONFLICT_RESOLUTION_SERVER_WINS, pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS}) {
    SCOPED_TRACE(pb::ConflictResolution_Name(rule));
    const std::string tag = pb::ConflictResolution_Name(rule);
    StoreOptions hub_options;
    hub_options.authoritative = true;
    auto hub = OpenStore(dir_.Sub("hub" + tag), hub_options);
    auto a = OpenStore(dir_.Sub("a" + tag)), b = OpenStore(dir_.Sub("b" + tag));
    const std::string c = a->CreateCollective(MakeCollective())->id;
    const std::string e = a->CreateExperience(MakeExperience(c))->id;
    Apply(*hub, OwnChanges(*a), Authority(rule));
    Apply(*b, AllChanges(*hub), Follower(rule));
    const uint64_t a_mark = a->log().Head();
    const uint64_t hub_mark = hub->log().Head();
    pb::ExperienceUpdate importance;
    importance.set_importance(0.9f);
    ASSERT_TRUE(a->UpdateExperience(e, importance).ok());
    ASSERT_TRUE(b->ArchiveExperience(e).ok());
    // The hub sees b first, then a; each peer follows the hub.
    Apply(*hub, OwnChanges(*b), Authority(rule));
    Apply(*hub, OwnChanges(*a, a_mark), Authority(rule));
    Apply(*a, AllChanges(*hub, hub_mark), Follower(rule));
    Apply(*b, AllChanges(*hub, hub_mark), Follower(rule));
    for (Store* s : {hub.get(), a.get(), b.get()}) {
      absl::StatusOr<pb::Experience> got = s->GetExperience(e);
      EXPECT_FLOAT_EQ(got->importance(), 0.9f);
      EXPECT_TRUE(got->archived());
    }
  }
}

TEST_F(StoreTest, ALocalUpdateAlwaysOrdersAfterTheVersionItWasMadeOn) {
  auto a = OpenStore(dir_.Sub("a")), b = OpenStore(dir_.Sub("b"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  std::vector<pb::SyncChange> create = OwnChanges(*a);
  Apply(*b, create, Follower(pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS));
  // A remote update stamped far in the future arrives at b...
  pb::ExperienceUpdate future;
  future.set_importance(0.1f);
  const uint64_t mark = a->log().Head();
  ASSERT_TRUE(a->UpdateExperience(e, future).ok());
  std::vector<pb::SyncChange> remote = OwnChanges(*a, mark);
  remote[0].set_timestamp(remote[0].timestamp() + 3600 * 1000);
  Apply(*b, remote, Follower(pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS));
  // ...then b updates locally: its write must be stamped after it, or other replicas
  // would ignore it while b kept it.
  pb::ExperienceUpdate mine;
  mine.set_importance(0.7f);
  ASSERT_TRUE(b->UpdateExperience(e, mine).ok());
  std::vector<pb::SyncChange> from_b = OwnChanges(*b);
  ASSERT_EQ(from_b.size(), 1u);
  EXPECT_GT(from_b[0].timestamp(), remote[0].timestamp());
  Apply(*a, from_b, Follower(pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS));
  EXPECT_FLOAT_EQ(a->GetExperience(e)->importance(), 0.7f);
}

TEST_F(StoreTest, ReinforcementFromTwoInstancesSumsEverywhere) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  Apply(*b, OwnChanges(*a), Follower());
  const uint64_t mark = a->log().Head();
  ASSERT_TRUE(a->ReinforceExperience(e).ok());
  ASSERT_TRUE(b->ReinforceExperience(e).ok());
  ASSERT_TRUE(b->ReinforceExperience(e).ok());
  Apply(*a, OwnChanges(*b), Follower());
  Apply(*b, OwnChanges(*a, mark), Follower());
  EXPECT_EQ(a->GetExperience(e)->applications(), 3u);
  EXPECT_EQ(b->GetExperience(e)->applications(), 3u);
  EXPECT_EQ(a->GetExperience(e)->reinforcement_size(), 2);
}

TEST_F(StoreTest, ConcurrentReinforcementsOnOneInstanceAllCount) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string c = store->CreateCollective(MakeCollective())->id;
  const std::string e = store->CreateExperience(MakeExperience(c))->id;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 25; ++k) ASSERT_TRUE(store->ReinforceExperience(e).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(store->GetExperience(e)->applications(), 100u);
}

TEST_F(StoreTest, DeletingAnExperienceCascadesToItsRelationsOnEveryReplica) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e1 = a->CreateExperience(MakeExperience(c))->id;
  const std::string e2 = a->CreateExperience(MakeExperience(c))->id;
  const std::string r = a->CreateRelation(MakeRelation(e1, e2))->id;
  Apply(*b, OwnChanges(*a), Follower());
  EXPECT_TRUE(b->GetRelation(r).ok());
  const uint64_t mark = a->log().Head();
  ASSERT_TRUE(a->DeleteExperience(e2).ok());
  EXPECT_EQ(a->GetRelation(r).status().code(), absl::StatusCode::kNotFound);
  Apply(*b, OwnChanges(*a, mark), Follower());
  EXPECT_EQ(b->GetRelation(r).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*a->CanonicalDump(), *b->CanonicalDump());
}

TEST_F(StoreTest, OwnChangesComingBackAreDuplicates) {
  auto a = OpenStore(dir_.Sub("a"));
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  ApplyReport report = Apply(*a, OwnChanges(*a), Follower());
  EXPECT_EQ(report.duplicates, 1);
  EXPECT_EQ(a->log().Head(), 1u);
}

TEST_F(StoreTest, PullCursorIsWrittenInTheSameBatchAsTheChangesItCovers) {
  auto a = OpenStore(dir_.Sub("a"));
  auto b = OpenStore(dir_.Sub("b"));
  const std::string hub_id = NewUuidV7();
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  std::vector<pb::SyncChange> changes = AllChanges(*a);
  absl::StatusOr<ApplyReport> report =
      b->ApplyRemoteChanges(changes, Follower(), PullCursorUpdate{hub_id, 5});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(**b->GetCursor(hub_id, CursorKind::kPull), 5u);
}

// ----- Compaction (the original's min-cursor rule)

class CompactionTest : public StoreTest {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.Sub("db"));
    const std::string c = store_->CreateCollective(MakeCollective())->id;
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(store_->CreateExperience(MakeExperience(c)).ok());
  }
  std::unique_ptr<Store> store_;
};

TEST_F(CompactionTest, WithNoPeersNothingIsRemoved) {
  EXPECT_EQ(*store_->CompactWal(), 0u);
  EXPECT_EQ(AllChanges(*store_).size(), 10u);
}

TEST_F(CompactionTest, OnePeerRemovesEverythingAtOrBelowItsCursor) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 4).ok());
  EXPECT_EQ(*store_->CompactWal(), 4u);
  EXPECT_EQ(store_->log().OldestRetained(), 5u);
  std::vector<pb::SyncChange> left = AllChanges(*store_, 4);
  ASSERT_EQ(left.size(), 6u);
  EXPECT_EQ(left.front().log_sequence(), 5u);  // events above the cursor are kept
}

TEST_F(CompactionTest, SeveralPeersUseTheMinimumCursor) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 8).ok());
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 3).ok());
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kPush, 6).ok());
  ASSERT_TRUE(
      store_->AdvanceCursor(NewUuidV7(), CursorKind::kPull, 1).ok());  // another log's position
  EXPECT_EQ(*store_->CompactWal(), 3u);
  EXPECT_EQ(store_->log().OldestRetained(), 4u);
}

TEST_F(CompactionTest, IsIdempotent) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 5).ok());
  EXPECT_EQ(*store_->CompactWal(), 5u);
  EXPECT_EQ(*store_->CompactWal(), 0u);
  EXPECT_EQ(AllChanges(*store_, 5).size(), 5u);
}

TEST_F(CompactionTest, RetentionFloorKeepsRecentEntries) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 9).ok());
  EXPECT_EQ(*store_->CompactWal(/*retain_from=*/4), 3u);
}

TEST_F(CompactionTest, IgnoredPeersDoNotHoldTheLogBack) {
  const std::string gone = NewUuidV7();
  ASSERT_TRUE(store_->AdvanceCursor(gone, CursorKind::kServed, 2).ok());
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 7).ok());
  EXPECT_EQ(*store_->CompactWal(std::nullopt, {gone}), 7u);
  EXPECT_EQ(store_->log().OldestRetained(), 8u);
}

TEST_F(CompactionTest, WhenOnlyIgnoredPeersHoldCursorsTheRetentionFloorAloneLimits) {
  const std::string gone = NewUuidV7();
  ASSERT_TRUE(store_->AdvanceCursor(gone, CursorKind::kServed, 2).ok());
  EXPECT_EQ(*store_->CompactWal(/*retain_from=*/9, {gone}), 8u);
  EXPECT_EQ(store_->log().OldestRetained(), 9u);
  EXPECT_EQ(*store_->CompactWal(std::nullopt, {gone}), 2u);  // through the head
  EXPECT_EQ(store_->log().OldestRetained(), 11u);
}

TEST_F(CompactionTest, ACursorBelowTheRetainedLogIsRefusedWithTheOldestSequence) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 6).ok());
  ASSERT_TRUE(store_->CompactWal().ok());
  ScanRequest request;
  request.after = 2;
  absl::StatusOr<ScanResult> result = store_->log().Scan(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(OldestRetainedOf(result.status()), 7u);
  request.after = 6;
  EXPECT_TRUE(store_->log().Scan(request).ok());
}

TEST_F(CompactionTest, SurvivesReopen) {
  ASSERT_TRUE(store_->AdvanceCursor(NewUuidV7(), CursorKind::kServed, 6).ok());
  ASSERT_TRUE(store_->CompactWal().ok());
  store_.reset();
  store_ = OpenStore(dir_.Sub("db"));
  EXPECT_EQ(store_->log().OldestRetained(), 7u);
  EXPECT_EQ(store_->log().Head(), 10u);
}

TEST_F(StoreTest, TombstonesAreDroppedOnceEveryPeerPassedThem) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string c = store->CreateCollective(MakeCollective())->id;
  const std::string e = store->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(store->DeleteExperience(e).ok());  // sequence 3
  const std::string peer = NewUuidV7();
  ASSERT_TRUE(store->AdvanceCursor(peer, CursorKind::kServed, 2).ok());
  ASSERT_TRUE(store->CompactWal().ok());
  EXPECT_TRUE(*store->IsTombstoned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, e));
  ASSERT_TRUE(store->AdvanceCursor(peer, CursorKind::kServed, 3).ok());
  ASSERT_TRUE(store->CompactWal().ok());
  EXPECT_FALSE(*store->IsTombstoned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, e));
}

TEST_F(StoreTest, DiskUsageReportsRocksDbEstimates) {
  auto store = OpenStore(dir_.Sub("db"));
  absl::StatusOr<Store::DiskUsage> usage = store->GetDiskUsage();
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->live_data_bytes, 0u);  // nothing in table files yet
  const std::string c = store->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->CreateExperience(MakeExperience(c)).ok());
  store.reset();
  store = OpenStore(dir_.Sub("db"));  // recovery writes the memtables to table files
  usage = store->GetDiskUsage();
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_GT(usage->live_data_bytes, 0u);
}

// ----- Snapshots

TEST_F(StoreTest, SnapshotRestoresTheSameStateAndTheSequenceToResumeFrom) {
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c1 = hub->CreateCollective(MakeCollective("one"))->id;
  const std::string c2 = hub->CreateCollective(MakeCollective("two"))->id;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(hub->CreateExperience(MakeExperience(c1))->id);
  ASSERT_TRUE(hub->CreateExperience(MakeExperience(c2)).ok());
  ASSERT_TRUE(hub->CreateRelation(MakeRelation(ids[0], ids[1])).ok());
  ASSERT_TRUE(hub->DeleteExperience(ids[5]).ok());
  ASSERT_TRUE(hub->ReinforceExperience(ids[2]).ok());

  auto peer = OpenStore(dir_.Sub("peer"));
  absl::StatusOr<std::unique_ptr<SnapshotReader>> reader = hub->OpenSnapshot({});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->sequence(), hub->log().Head());
  pb::SnapshotChunk chunk;
  int chunks = 0;
  bool more = true;
  while (more) {
    absl::StatusOr<bool> next = (*reader)->Next(600, &chunk);  // small budget: many chunks
    ASSERT_TRUE(next.ok()) << next.status();
    more = *next;
    ++chunks;
    ASSERT_TRUE(peer->ApplySnapshotChunk(chunk, Follower(), hub->instance_id()).ok());
  }
  EXPECT_GT(chunks, 3);
  EXPECT_TRUE(chunk.done());
  EXPECT_EQ(*peer->CanonicalDump(), *hub->CanonicalDump());
  EXPECT_EQ(**peer->GetCursor(hub->instance_id(), CursorKind::kPull), hub->log().Head());
}

TEST_F(StoreTest, SnapshotOfOneCollectiveLeavesOthersOut) {
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c1 = hub->CreateCollective(MakeCollective("one"))->id;
  const std::string c2 = hub->CreateCollective(MakeCollective("two"))->id;
  ASSERT_TRUE(hub->CreateExperience(MakeExperience(c1)).ok());
  ASSERT_TRUE(hub->CreateExperience(MakeExperience(c2)).ok());
  auto reader = *hub->OpenSnapshot({c2});
  pb::SnapshotChunk chunk;
  ASSERT_FALSE(*reader->Next(1 << 20, &chunk));
  ASSERT_EQ(chunk.entities_size(), 2);  // collective two and its experience
  for (const pb::VersionedEntity& e : chunk.entities()) EXPECT_EQ(e.collective_id(), c2);

  // A long list (looked up by binary search) selects what its one real member does.
  std::vector<std::string> many;
  for (int i = 0; i < 1000; ++i) many.push_back(NewUuidV7());
  many.push_back(c2);
  auto filtered = *hub->OpenSnapshot(many);
  pb::SnapshotChunk same;
  ASSERT_FALSE(*filtered->Next(1 << 20, &same));
  ASSERT_EQ(same.entities_size(), 2);
  for (const pb::VersionedEntity& e : same.entities()) EXPECT_EQ(e.collective_id(), c2);
}

TEST_F(StoreTest, SnapshotItemLargerThanTheBudgetIsResourceExhausted) {
  auto hub = OpenStore(dir_.Sub("hub"));
  ASSERT_TRUE(hub->CreateCollective(MakeCollective()).ok());
  auto reader = *hub->OpenSnapshot({});
  pb::SnapshotChunk chunk;
  EXPECT_EQ(reader->Next(10, &chunk).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(StoreTest, ARestoredStoreSendsEarlierCursorsToSnapshotAndContinuesItsLog) {
  auto hub = OpenStore(dir_.Sub("hub"));
  const std::string c = hub->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(hub->CreateExperience(MakeExperience(c)).ok());
  auto restored = OpenStore(dir_.Sub("restored"));
  auto reader = *hub->OpenSnapshot({});
  pb::SnapshotChunk chunk;
  ASSERT_FALSE(*reader->Next(1 << 20, &chunk));
  ASSERT_TRUE(restored->ApplySnapshotChunk(chunk, Follower(), hub->instance_id()).ok());
  ASSERT_TRUE(restored->MarkHistoryUnavailableThrough(reader->sequence()).ok());
  EXPECT_EQ(*restored->CanonicalDump(), *hub->CanonicalDump());
  ScanRequest from_zero;
  EXPECT_EQ(restored->log().Scan(from_zero).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(restored->CreateExperience(MakeExperience(c))->sequence, 3u);
  EXPECT_EQ(restored->MarkHistoryUnavailableThrough(9).code(),
            absl::StatusCode::kFailedPrecondition);
  restored.reset();
  restored = OpenStore(dir_.Sub("restored"));  // survives reopen
  EXPECT_EQ(restored->log().OldestRetained(), 3u);
}

TEST_F(StoreTest, PruneAfterSnapshotRemovesWhatTheHubDeletedAndKeepsOwnUnpushedCreates) {
  auto hub = OpenStore(dir_.Sub("hub"));
  auto peer = OpenStore(dir_.Sub("peer"));
  const std::string c = hub->CreateCollective(MakeCollective())->id;
  const std::string x = hub->CreateExperience(MakeExperience(c))->id;
  const std::string y = hub->CreateExperience(MakeExperience(c))->id;
  const std::string r = hub->CreateRelation(MakeRelation(x, y))->id;
  const std::string i = hub->CreateInsight(MakeInsight(c))->id;
  Apply(*peer, AllChanges(*hub), Follower());
  // The peer's own create, pushed and acknowledged, then deleted on the hub.
  const std::string w = peer->CreateExperience(MakeExperience(c))->id;
  Apply(*hub, OwnChanges(*peer));
  ASSERT_TRUE(peer->AdvanceCursor(hub->instance_id(), CursorKind::kPush, peer->log().Head()).ok());
  // While the peer is away: x (and with it r) and w are deleted on the hub...
  ASSERT_TRUE(hub->DeleteExperience(x).ok());
  ASSERT_TRUE(hub->DeleteExperience(w).ok());
  // ...and the peer updates x and makes a create of its own, neither pushed yet.
  pb::ExperienceUpdate update;
  update.set_importance(0.7f);
  ASSERT_TRUE(peer->UpdateExperience(x, update).ok());
  const std::string z = peer->CreateExperience(MakeExperience(c))->id;

  // Catch-up by snapshot (the deletes' tombstones are gone from it: only entities count).
  absl::flat_hash_set<std::string> received;
  auto reader = *hub->OpenSnapshot({});
  pb::SnapshotChunk chunk;
  for (bool more = true; more;) {
    more = *reader->Next(1 << 20, &chunk);
    chunk.clear_tombstones();
    ASSERT_TRUE(peer->ApplySnapshotChunk(chunk, Follower(), hub->instance_id()).ok());
    for (const pb::VersionedEntity& e : chunk.entities()) {
      received.insert(Store::SnapshotEntityKey(e));
    }
  }
  EXPECT_TRUE(peer->GetExperience(x).ok()) << "the snapshot alone does not remove it";

  // Another collective's scope touches nothing of this one, and neither do entity types
  // this peer does not sync (it never pushed them: the hub cannot have them).
  ScanFilter other_collective;
  other_collective.collectives = {NewUuidV7()};
  EXPECT_EQ(*peer->PruneAfterSnapshot(received, other_collective, hub->instance_id()), 0);
  ScanFilter insights_only;
  insights_only.entity_types = {pb::SYNC_ENTITY_TYPE_INSIGHT};
  EXPECT_EQ(*peer->PruneAfterSnapshot(received, insights_only, hub->instance_id()), 0);
  absl::StatusOr<int> pruned = peer->PruneAfterSnapshot(received, {}, hub->instance_id());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);  // x, r, w
  for (const std::string& id : {x, w}) {
    EXPECT_EQ(peer->GetExperience(id).status().code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(*peer->IsTombstoned(pb::SYNC_ENTITY_TYPE_EXPERIENCE, id));
  }
  EXPECT_EQ(peer->GetRelation(r).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(peer->GetExperience(y).ok());
  EXPECT_TRUE(peer->GetInsight(i).ok());
  EXPECT_TRUE(peer->GetExperience(z).ok()) << "own create not yet pushed";
  EXPECT_TRUE(peer->GetCollective(c).ok());
  // Nothing was logged: what the peer has to push is still the update of x (moot now
  // that x is tombstoned here: SyncManager does not send it) and z.
  std::vector<pb::SyncChange> unpushed =
      OwnChanges(*peer, **peer->GetCursor(hub->instance_id(), CursorKind::kPush));
  ASSERT_EQ(unpushed.size(), 2u);
  EXPECT_EQ(unpushed[0].payload().experience_updated().id(), x);
  EXPECT_EQ(unpushed[1].payload().experience_created().id(), z);
  // Once z reaches the hub, both hold the same state.
  Apply(*hub, {unpushed[1]});
  EXPECT_EQ(*peer->CanonicalDump(), *hub->CanonicalDump());
}

// ----- Concurrency: group commit keeps the log dense and published in order

TEST_F(StoreTest, ConcurrentWritersGetDenseSequencesAndReadersNeverSeeAGap) {
  auto store = OpenStore(dir_.Sub("db"));
  const std::string c = store->CreateCollective(MakeCollective())->id;
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      ScanRequest request;
      request.max_changes = 1000000;
      absl::StatusOr<ScanResult> result = store->log().Scan(request);
      ASSERT_TRUE(result.ok()) << result.status();
      for (size_t k = 0; k < result->changes.size(); ++k) {
        ASSERT_EQ(result->changes[k].log_sequence(), k + 1);
      }
      reads.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int k = 0; k < 50; ++k) ASSERT_TRUE(store->CreateExperience(MakeExperience(c)).ok());
    });
  }
  for (std::thread& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->log().Head(), 201u);
  EXPECT_EQ(AllChanges(*store).size(), 201u);
}

// ----- Corruption is reported, not crashed on

TEST_F(StoreTest, ACorruptValueReadBackIsDataLoss) {
  const std::string path = dir_.Sub("db");
  std::string id;
  {
    auto store = OpenStore(path);
    id = store->CreateCollective(MakeCollective())->id;
  }
  {
    // Overwrite the record with garbage through RocksDB directly.
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
    for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, families, &handles, &db).ok());
    for (auto* h : handles) {
      if (h->GetName() == kCollectivesFamily) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h, id, "\xff\xff\xff garbage").ok());
      }
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  auto store = OpenStore(path);
  EXPECT_EQ(store->GetCollective(id).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store->CreateExperience(MakeExperience(id)).status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace pulse::storage
