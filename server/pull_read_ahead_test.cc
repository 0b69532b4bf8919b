#include "server/pull_read_ahead.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::server {
namespace {

class PullReadAheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *storage::Store::Open(dir_.Sub("hub"));
    SharedPages::Options never_shared;
    never_shared.max_bytes = 0;
    pages_ = std::make_unique<SharedPages>(&store_->log(), never_shared);
    Append(1);
  }

  // `n` more log entries: a collective and its experiences.
  void Append(int n) {
    if (collective_.empty()) {
      collective_ = store_->CreateCollective(testing::MakeCollective())->id;
      --n;
    }
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(store_->CreateExperience(testing::MakeExperience(collective_)).ok());
    }
  }

  // Everything queued on the (single-threaded) pool so far has run.
  void Drain() {
    absl::Notification done;
    pool_.Schedule([&done] { done.Notify(); });
    done.WaitForNotification();
  }

  storage::ScanRequest Page(uint64_t after) {
    storage::ScanRequest scan;
    scan.after = after;
    scan.max_changes = 10;
    return scan;
  }

  // Serves page `scan` fresh, as a Pull would, then reads ahead after it; with `drain`,
  // returns once the read-ahead has run (else it may still be queued or running).
  storage::ScanResult Serve(PullReadAhead& ahead, const std::string& peer,
                            const storage::ScanRequest& scan, bool drain = true) {
    std::string wire;
    absl::StatusOr<storage::ScanResult> page = store_->log().ScanWire(scan, &wire);
    EXPECT_TRUE(page.ok()) << page.status();
    ahead.ReadAheadAfter(peer, scan, *page);
    if (drain) Drain();
    return *page;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<SharedPages> pages_;
  std::string collective_;
  WorkPool pool_{1};
  const std::string peer_ = std::string(16, 'p');
};

TEST_F(PullReadAheadTest, ServesExactlyWhatAFreshScanWould) {
  Append(24);  // 25 entries: pages of 10, 10, 5
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult first = Serve(ahead, peer_, Page(0));
  ASSERT_TRUE(first.has_more);
  EXPECT_GT(ahead.held_bytes(), 0u);
  const storage::ScanRequest second = Page(first.scanned_through);
  std::string fresh;
  absl::StatusOr<storage::ScanResult> expected = store_->log().ScanWire(second, &fresh);
  ASSERT_TRUE(expected.ok());
  std::optional<SharedPage> got = ahead.Take(peer_, second);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got->wire, fresh);
  EXPECT_EQ(got->result.scanned_through, expected->scanned_through);
  EXPECT_EQ(got->result.has_more, expected->has_more);
  EXPECT_EQ(got->result.appended, 10u);
  EXPECT_EQ(ahead.held_bytes(), 0u);                    // handed over
  EXPECT_FALSE(ahead.Take(peer_, second).has_value());  // and only once
}

// A peer paging ahead asks for page n+1 as soon as page n arrives, often while page
// n+1's read-ahead is still scanning: the Pull waits for that scan, not scans again.
TEST_F(PullReadAheadTest, APullWaitsForTheScanRunningForIt) {
  Append(24);
  absl::Notification scanning, release;
  int scans = 0;  // read on this thread only after the pool's task has ended
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20, absl::Seconds(30), [&] {
    ++scans;
    scanning.Notify();
    release.WaitForNotification();
  });
  const storage::ScanResult first = Serve(ahead, peer_, Page(0), /*drain=*/false);
  scanning.WaitForNotification();
  const storage::ScanRequest second = Page(first.scanned_through);
  std::optional<SharedPage> got;
  absl::Notification taken;
  std::thread pull([&] {
    got = ahead.Take(peer_, second);
    taken.Notify();
  });
  // A negative check, bounded: the Pull is still waiting while the scan is held.
  EXPECT_FALSE(taken.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  release.Notify();
  pull.join();
  ASSERT_TRUE(got.has_value());
  std::string fresh;
  ASSERT_TRUE(store_->log().ScanWire(second, &fresh).ok());
  EXPECT_EQ(*got->wire, fresh);
  EXPECT_EQ(ahead.held_bytes(), 0u);
  Drain();
  EXPECT_EQ(scans, 1);
}

// A read-ahead still queued when its Pull arrives is the Pull's to scan, and is skipped.
TEST_F(PullReadAheadTest, AScanNotStartedIsLeftToThePullAndSkipped) {
  Append(24);
  std::atomic<int> scans{0};
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20, absl::Seconds(30),
                      [&] { ++scans; });
  absl::Notification busy, release;
  pool_.Schedule([&] {  // the single pool thread is busy: the read-ahead waits in line
    busy.Notify();
    release.WaitForNotification();
  });
  busy.WaitForNotification();
  const storage::ScanResult first = Serve(ahead, peer_, Page(0), /*drain=*/false);
  EXPECT_FALSE(ahead.Take(peer_, Page(first.scanned_through)).has_value());
  release.Notify();
  Drain();
  EXPECT_EQ(scans.load(), 0);
  EXPECT_EQ(ahead.held_bytes(), 0u);
}

TEST_F(PullReadAheadTest, AnotherPeerOrAnotherScanGetsNothing) {
  Append(24);
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult first = Serve(ahead, peer_, Page(0));
  storage::ScanRequest second = Page(first.scanned_through);
  EXPECT_FALSE(ahead.Take(std::string(16, 'q'), second).has_value());
  storage::ScanRequest filtered = second;
  filtered.filter.collectives = {std::string(16, 'c')};  // e.g. the peer's grant changed
  EXPECT_FALSE(ahead.Take(peer_, filtered).has_value());
  EXPECT_FALSE(ahead.Take(peer_, second).has_value());  // the mismatch dropped it
  EXPECT_EQ(ahead.held_bytes(), 0u);
}

TEST_F(PullReadAheadTest, APageThatReachedTheEndIsStaleOnceTheLogGrows) {
  Append(14);  // 15 entries: the page after the first reaches the end
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult first = Serve(ahead, peer_, Page(0));
  const storage::ScanRequest second = Page(first.scanned_through);
  Append(1);  // entry 16 would belong on that page
  EXPECT_FALSE(ahead.Take(peer_, second).has_value());

  // Without growth the same page is served.
  first = Serve(ahead, peer_, Page(0));
  std::optional<SharedPage> got = ahead.Take(peer_, second);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->result.appended, 6u);
  EXPECT_FALSE(got->result.has_more);
}

TEST_F(PullReadAheadTest, APageCutByItsLimitsSurvivesGrowth) {
  Append(29);  // 30 entries: the second page is full and more follow
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult first = Serve(ahead, peer_, Page(0));
  Append(5);  // the log is append-only: entries 11..20 cannot change
  std::optional<SharedPage> got = ahead.Take(peer_, Page(first.scanned_through));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->result.scanned_through, 20u);
}

TEST_F(PullReadAheadTest, ACursorCompactedMeanwhileIsLeftToTheFreshScan) {
  Append(29);
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult first = Serve(ahead, peer_, Page(0));
  ASSERT_TRUE(store_->log().CompactThrough(15).ok());
  EXPECT_FALSE(ahead.Take(peer_, Page(first.scanned_through)).has_value());
}

TEST_F(PullReadAheadTest, NothingIsHeldBeyondTheBudget) {
  Append(29);
  PullReadAhead tiny(&store_->log(), pages_.get(), &pool_, /*max_bytes=*/100);  // less than a page
  storage::ScanResult first = Serve(tiny, peer_, Page(0));
  EXPECT_EQ(tiny.held_bytes(), 0u);
  EXPECT_FALSE(tiny.Take(peer_, Page(first.scanned_through)).has_value());

  PullReadAhead off(&store_->log(), pages_.get(), &pool_, /*max_bytes=*/0);
  first = Serve(off, peer_, Page(0));
  EXPECT_EQ(off.held_bytes(), 0u);
  EXPECT_FALSE(off.Take(peer_, Page(first.scanned_through)).has_value());
}

TEST_F(PullReadAheadTest, APeerAtTheHeadIsNotReadAheadFor) {
  Append(4);
  PullReadAhead ahead(&store_->log(), pages_.get(), &pool_, 64 << 20);
  storage::ScanResult all = Serve(ahead, peer_, Page(0));
  ASSERT_FALSE(all.has_more);
  EXPECT_EQ(ahead.held_bytes(), 0u);
  EXPECT_FALSE(ahead.Take(peer_, Page(all.scanned_through)).has_value());
}

}  // namespace
}  // namespace pulse::server
