#include "storage/change_log.h"

#include <thread>

#include "absl/time/clock.h"
#include "common/status_payloads.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;
using ::pulse::testing::MakeRelation;

class ChangeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *Store::Open(dir_.Sub("db"));
    // 1: collective A, 2..6: five experiences in A, 7: collective B,
    // 8..10: three experiences in B, 11: a relation in A.
    a_ = store_->CreateCollective(MakeCollective("a"))->id;
    for (int i = 0; i < 5; ++i) a_exps_.push_back(store_->CreateExperience(MakeExperience(a_))->id);
    b_ = store_->CreateCollective(MakeCollective("b"))->id;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->CreateExperience(MakeExperience(b_)).ok());
    ASSERT_TRUE(store_->CreateRelation(MakeRelation(a_exps_[0], a_exps_[1])).ok());
  }

  ScanResult Scan(ScanRequest request) {
    absl::StatusOr<ScanResult> result = store_->log().Scan(request);
    EXPECT_TRUE(result.ok()) << result.status();
    return *result;
  }

  pulse::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::string a_, b_;
  std::vector<std::string> a_exps_;
};

TEST_F(ChangeLogTest, HasMoreIsExactAtTheEndOfTheLog) {
  ScanRequest request;
  request.max_changes = 11;
  ScanResult all = Scan(request);
  EXPECT_EQ(all.changes.size(), 11u);
  EXPECT_EQ(all.scanned_through, 11u);
  EXPECT_FALSE(all.has_more);  // exactly a page: nothing remains
  request.max_changes = 10;
  ScanResult page = Scan(request);
  EXPECT_EQ(page.scanned_through, 10u);
  EXPECT_TRUE(page.has_more);
}

TEST_F(ChangeLogTest, CollectiveFilterAdvancesPastFilteredEntries) {
  ScanRequest request;
  request.after = 6;
  request.filter.collectives = {a_};
  ScanResult result = Scan(request);
  ASSERT_EQ(result.changes.size(), 1u);  // only the relation at 11
  EXPECT_EQ(result.changes[0].log_sequence(), 11u);
  EXPECT_EQ(result.scanned_through, 11u);
  EXPECT_FALSE(result.has_more);
}

// A peer chooses its filter: a long list of collectives (looked up by binary search)
// selects exactly what the same list's one real member does.
TEST_F(ChangeLogTest, ALongCollectiveFilterSelectsWhatItsMembersDo) {
  ScanRequest request;
  request.max_changes = 100;
  request.filter.collectives = {a_};
  const ScanResult short_list = Scan(request);
  request.filter.collectives.clear();
  for (int i = 0; i < 10000; ++i) request.filter.collectives.push_back(NewUuidV7());
  request.filter.collectives.push_back(a_);  // last, after ids that sort either side of it
  const ScanResult long_list = Scan(request);
  ASSERT_EQ(long_list.changes.size(), short_list.changes.size());
  EXPECT_EQ(long_list.changes.size(), 7u);  // A, its five experiences, the relation
  for (std::size_t i = 0; i < long_list.changes.size(); ++i) {
    EXPECT_EQ(long_list.changes[i].log_sequence(), short_list.changes[i].log_sequence());
  }
  EXPECT_EQ(long_list.scanned_through, 11u);
}

TEST_F(ChangeLogTest, ScanWireFramesTheStoredChangesAndSaysWhereEachSits) {
  ScanRequest request;
  request.after = 6;
  request.filter.collectives = {a_};  // 7..10 are B's: only the relation at 11 is kept
  ScanResult parsed = Scan(request);
  ASSERT_EQ(parsed.changes.size(), 1u);
  std::string wire = "prefix";
  absl::StatusOr<ScanResult> page = store_->log().ScanWire(request, &wire);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->appended, 1u);
  EXPECT_EQ(page->scanned_through, 11u);
  ASSERT_EQ(page->wire_changes.size(), 1u);
  EXPECT_EQ(page->wire_changes[0].log_sequence, 11u);
  EXPECT_EQ(page->wire_changes[0].timestamp, parsed.changes[0].timestamp());
  EXPECT_NE(page->wire_changes[0].timestamp, 0);
  // Appended after what was there, as field 1 of a reply: it parses back to the change.
  ASSERT_EQ(wire.substr(0, 6), "prefix");
  pb::PullResponse reply;
  ASSERT_TRUE(reply.ParseFromString(wire.substr(6)));
  ASSERT_EQ(reply.changes_size(), 1);
  EXPECT_EQ(reply.changes(0).SerializeAsString(), parsed.changes[0].SerializeAsString());
}

TEST_F(ChangeLogTest, AnEntirelyFilteredPageStillMovesTheCursorToTheEnd) {
  ScanRequest request;
  request.after = 6;
  request.filter.collectives = {NewUuidV7()};
  ScanResult result = Scan(request);
  EXPECT_TRUE(result.changes.empty());
  EXPECT_EQ(result.scanned_through, 11u);
  EXPECT_FALSE(result.has_more);
}

TEST_F(ChangeLogTest, ExaminationLimitCutsALongFilteredRunAndSaysSo) {
  ScanRequest request;
  request.filter.collectives = {NewUuidV7()};
  request.max_examined = 4;
  ScanResult result = Scan(request);
  EXPECT_EQ(result.scanned_through, 4u);
  EXPECT_TRUE(result.has_more);
}

TEST_F(ChangeLogTest, EntityTypeAndOriginFilters) {
  ScanRequest request;
  request.filter.entity_types = {pb::SYNC_ENTITY_TYPE_COLLECTIVE};
  EXPECT_EQ(Scan(request).changes.size(), 2u);
  request.filter.entity_types = {pb::SYNC_ENTITY_TYPE_RELATION, pb::SYNC_ENTITY_TYPE_COLLECTIVE};
  EXPECT_EQ(Scan(request).changes.size(), 3u);
  request.filter = {};
  request.filter.exclude_origin = store_->instance_id();
  ScanResult none = Scan(request);
  EXPECT_TRUE(none.changes.empty());  // never echo to the origin
  EXPECT_EQ(none.scanned_through, 11u);
  request.filter = {};
  request.filter.only_origin = store_->instance_id();
  EXPECT_EQ(Scan(request).changes.size(), 11u);
}

TEST_F(ChangeLogTest, ByteBudgetPacksTheLongestPrefixThatFits) {
  ScanRequest request;
  request.after = 1;
  const std::size_t one = Scan({1, 1, 0, 0, {}}).changes[0].ByteSizeLong();
  request.max_bytes = one * 2 + one / 2;  // room for two experiences, not three
  ScanResult result = Scan(request);
  EXPECT_EQ(result.changes.size(), 2u);
  EXPECT_EQ(result.scanned_through, 3u);
  EXPECT_TRUE(result.has_more);
  EXPECT_FALSE(result.oversized.has_value());
}

TEST_F(ChangeLogTest, AChangeLargerThanTheBudgetAloneIsReportedWithItsSequence) {
  ScanRequest request;
  request.after = 1;
  request.max_bytes = 10;
  ScanResult result = Scan(request);
  EXPECT_TRUE(result.changes.empty());
  ASSERT_TRUE(result.oversized.has_value());
  EXPECT_EQ(result.oversized->log_sequence, 2u);
  EXPECT_GT(result.oversized->bytes, 10u);
  EXPECT_EQ(result.scanned_through, 1u);  // does not pass it
}

TEST_F(ChangeLogTest, WaitForNewWakesOnCommitAndTimesOutOtherwise) {
  const uint64_t head = store_->log().Head();
  EXPECT_FALSE(store_->log().WaitForNew(head, absl::Now() + absl::Milliseconds(20)));
  std::thread writer([&] { EXPECT_TRUE(store_->CreateExperience(MakeExperience(a_)).ok()); });
  EXPECT_TRUE(store_->log().WaitForNew(head, absl::Now() + absl::Seconds(30)));
  writer.join();
  EXPECT_EQ(store_->log().Head(), head + 1);
}

TEST_F(ChangeLogTest, ListenersHearEveryCommitThatAppendsAndStopAfterRemoval) {
  std::atomic<uint64_t> heard{0};
  const uint64_t id = store_->log().AddListener([&](uint64_t head) { heard = head; });
  ASSERT_TRUE(store_->CreateExperience(MakeExperience(a_)).ok());
  EXPECT_EQ(heard.load(), store_->log().Head());
  store_->log().RemoveListener(id);
  ASSERT_TRUE(store_->CreateExperience(MakeExperience(a_)).ok());
  EXPECT_EQ(heard.load(), store_->log().Head() - 1);
}

TEST_F(ChangeLogTest, ScanAfterTheHeadIsEmptyAndNotMore) {
  ScanRequest request;
  request.after = 11;
  ScanResult result = Scan(request);
  EXPECT_TRUE(result.changes.empty());
  EXPECT_EQ(result.scanned_through, 11u);
  EXPECT_FALSE(result.has_more);
}

TEST_F(ChangeLogTest, ScanWireListsTheOriginsOfWhatItRead) {
  ScanRequest request;
  std::string wire;
  absl::StatusOr<ScanResult> local = store_->log().ScanWire(request, &wire);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(local->origins_listed);
  EXPECT_EQ(local->origins, std::vector<std::string>{store_->instance_id()});

  // Experiences from 17 other origins (one more than are listed), applied here.
  std::unique_ptr<Store> other = *Store::Open(dir_.Sub("other"));
  const std::string c = other->CreateCollective(MakeCollective("c"))->id;
  for (std::size_t i = 0; i <= ScanResult::kMaxListedOrigins; ++i) {
    ASSERT_TRUE(other->CreateExperience(MakeExperience(c)).ok());
  }
  std::vector<pb::SyncChange> changes = (*other->log().Scan(ScanRequest{})).changes;
  std::vector<std::string> origins = {other->instance_id()};
  for (std::size_t i = 1; i < changes.size(); ++i) {
    origins.push_back(NewUuidV7());
    changes[i].set_source_instance(origins.back());
    changes[i].set_sequence(1);
  }
  ApplyContext authority;
  authority.mode = ApplyMode::kAuthority;
  absl::StatusOr<ApplyReport> applied = store_->ApplyRemoteChanges(changes, authority);
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_TRUE(applied->failure.ok()) << applied->failure;

  // Entries 12 (the collective, from `other`) to 29, each from another origin. A page of
  // 15 also reads the entry after it (to find the page full): 16 origins, listed in order.
  request.after = 11;
  request.max_changes = ScanResult::kMaxListedOrigins - 1;
  wire.clear();
  absl::StatusOr<ScanResult> listed = store_->log().ScanWire(request, &wire);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->origins_listed);
  EXPECT_EQ(listed->origins, std::vector<std::string>(
                                 origins.begin(), origins.begin() + ScanResult::kMaxListedOrigins));
  request.max_changes = 100;
  wire.clear();
  absl::StatusOr<ScanResult> overflow = store_->log().ScanWire(request, &wire);
  ASSERT_TRUE(overflow.ok()) << overflow.status();
  EXPECT_EQ(overflow->appended, changes.size());
  EXPECT_FALSE(overflow->origins_listed);
}

}  // namespace
}  // namespace pulse::storage
