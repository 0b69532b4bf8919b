#include "server/shared_pages.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/wire_buffer_pool.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::server {
namespace {

namespace pb = pulsedb::sync::v1;

class SharedPagesTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kTogether = absl::Milliseconds(100);

  void SetUp() override {
    store_ = *storage::Store::Open(dir_.Sub("hub"));
    collective_ = store_->CreateCollective(testing::MakeCollective())->id;
  }

  // `n` more log entries, experiences created on the hub itself.
  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(store_->CreateExperience(testing::MakeExperience(collective_)).ok());
    }
  }

  // One experience pushed by `peer` (applied as a hub applies a push).
  void AppendFrom(const std::string& peer, uint64_t origin_sequence) {
    std::unique_ptr<storage::Store> other = *storage::Store::Open(dir_.Sub("peer"));
    ASSERT_TRUE(other->ApplyRemoteChanges(store_->log().Scan({})->changes, {}).ok());
    ASSERT_TRUE(other->CreateExperience(testing::MakeExperience(collective_)).ok());
    storage::ScanRequest last;
    last.after = other->log().Head() - 1;
    std::vector<pb::SyncChange> change = other->log().Scan(last)->changes;
    ASSERT_EQ(change.size(), 1u);
    change[0].set_source_instance(peer);
    change[0].set_sequence(origin_sequence);
    storage::ApplyContext authority;
    authority.mode = storage::ApplyMode::kAuthority;
    absl::StatusOr<storage::ApplyReport> report = store_->ApplyRemoteChanges(change, authority);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->failure.ok()) << report->failure;
  }

  // The page `reader` (a peer: its own changes left out) gets after `after`.
  static storage::ScanRequest PageFor(const std::string& reader, uint64_t after,
                                      std::size_t max_changes = 10) {
    storage::ScanRequest scan;
    scan.after = after;
    scan.max_changes = max_changes;
    scan.filter.exclude_origin = reader;
    return scan;
  }

  std::string Fresh(const storage::ScanRequest& scan) {
    std::string wire;
    EXPECT_TRUE(store_->log().ScanWire(scan, &wire).ok());
    return wire;
  }

  // Two other peers read (an empty page, at the head): peers now read together, and
  // pages are kept. Two scans.
  void Together(SharedPages& pages) {
    for (const std::string& peer : {std::string(16, 'x'), std::string(16, 'y')}) {
      EXPECT_EQ(Read(pages, PageFor(peer, store_->log().Head())).result.appended, 0u);
    }
  }

  SharedPage Read(SharedPages& pages, const storage::ScanRequest& scan) {
    absl::StatusOr<SharedPage> page = pages.Read(scan);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : SharedPage{std::make_shared<const std::string>(), {}};
  }

  // Pages over this test's clock, which moves only when told to.
  std::unique_ptr<SharedPages> Pages(std::size_t max_bytes,
                                     absl::Duration max_age = absl::Seconds(10),
                                     std::function<void()> before_scan = nullptr) {
    SharedPages::Options options;
    options.max_bytes = max_bytes;
    options.max_age = max_age;
    options.together = kTogether;
    options.now = [this] { return absl::FromUnixNanos(now_nanos_.load()); };
    options.before_scan = std::move(before_scan);
    return std::make_unique<SharedPages>(&store_->log(), std::move(options));
  }
  void Advance(absl::Duration by) { now_nanos_ += absl::ToInt64Nanoseconds(by); }

  std::atomic<int64_t> now_nanos_{1'800'000'000'000'000'000};
  testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::string collective_;
  const std::string peer_a_ = std::string(16, 'a');
  const std::string peer_b_ = std::string(16, 'b');
};

TEST_F(SharedPagesTest, OneScanServesEveryPeerReadingTheSamePage) {
  Append(24);  // 25 entries: pages of 10, 10, 5
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Together(*pages);
  const SharedPage a = Read(*pages, PageFor(peer_a_, 0));
  const SharedPage b = Read(*pages, PageFor(peer_b_, 0));
  EXPECT_EQ(pages->scans(), 3u);
  EXPECT_EQ(pages->hits(), 1u);
  EXPECT_EQ(b.wire, a.wire);  // the same bytes, not a copy
  EXPECT_EQ(*b.wire, Fresh(PageFor(peer_b_, 0)));
  EXPECT_EQ(b.result.scanned_through, 10u);
  EXPECT_TRUE(b.result.has_more);
  EXPECT_EQ(b.result.appended, 10u);
  EXPECT_EQ(b.result.wire_changes.size(), 10u);
  EXPECT_EQ(pages->held_bytes(), SharedPages::Charge(PageFor(peer_a_, 0), *a.wire));
  // Other limits, another page.
  const SharedPage other = Read(*pages, PageFor(peer_b_, 0, 5));
  EXPECT_EQ(pages->scans(), 4u);
  EXPECT_EQ(*other.wire, Fresh(PageFor(peer_b_, 0, 5)));
}

TEST_F(SharedPagesTest, APeerNeverGetsAPageHoldingItsOwnChanges) {
  Append(3);
  AppendFrom(peer_b_, 1);  // entry 5 is B's
  Append(3);
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Together(*pages);
  // A's page holds B's change: kept, but B must not be served it.
  const SharedPage a = Read(*pages, PageFor(peer_a_, 0));
  EXPECT_EQ(a.result.appended, 8u);
  const SharedPage b = Read(*pages, PageFor(peer_b_, 0));
  EXPECT_EQ(pages->hits(), 0u);
  EXPECT_EQ(b.result.appended, 7u);
  EXPECT_EQ(*b.wire, Fresh(PageFor(peer_b_, 0)));
  // B's page left B's change out: it is B's alone and is not kept for A either.
  const SharedPage a_again = Read(*pages, PageFor(peer_a_, 0));
  EXPECT_EQ(pages->hits(), 1u);  // A's own page, still kept
  EXPECT_EQ(a_again.wire, a.wire);
  std::unique_ptr<SharedPages> fresh = Pages(64 << 20);
  Together(*fresh);
  Read(*fresh, PageFor(peer_b_, 0));
  Read(*fresh, PageFor(peer_a_, 0));
  EXPECT_EQ(fresh->hits(), 0u);
  // A's, kept when A scanned it.
  EXPECT_EQ(fresh->held_bytes(), SharedPages::Charge(PageFor(peer_a_, 0), *a.wire));
}

TEST_F(SharedPagesTest, APageThatReachedTheHeadIsNotServedOnceTheLogGrew) {
  Append(4);  // 5 entries: one short page
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Together(*pages);
  const SharedPage first = Read(*pages, PageFor(peer_a_, 0));
  EXPECT_FALSE(first.result.has_more);
  EXPECT_EQ(first.result.appended, 5u);
  Read(*pages, PageFor(peer_b_, 0));
  EXPECT_EQ(pages->hits(), 1u);  // the log has not moved: the same page
  Append(1);
  const SharedPage grown = Read(*pages, PageFor(peer_b_, 0));
  EXPECT_EQ(pages->hits(), 1u);
  EXPECT_EQ(grown.result.appended, 6u);
  EXPECT_EQ(*grown.wire, Fresh(PageFor(peer_b_, 0)));
  // A full page's content cannot change: it is served after the log grew.
  Append(10);
  const SharedPage full = Read(*pages, PageFor(peer_a_, 0, 3));
  Append(1);
  EXPECT_EQ(Read(*pages, PageFor(peer_b_, 0, 3)).wire, full.wire);
}

TEST_F(SharedPagesTest, ACompactedCursorGetsTheFreshScansError) {
  Append(24);
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Together(*pages);
  Read(*pages, PageFor(peer_a_, 0));
  ASSERT_TRUE(store_->log().CompactThrough(5).ok());
  absl::StatusOr<SharedPage> refused = pages->Read(PageFor(peer_b_, 0));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status(), store_->log().Scan(PageFor(peer_b_, 0)).status());
  EXPECT_EQ(pages->hits(), 0u);
}

TEST_F(SharedPagesTest, KeepsNoMoreThanItsBudgetOldestDroppedFirst) {
  Append(39);                  // 40 entries: four full pages
  std::size_t page_bytes = 0;  // what the largest page holds on to
  {
    std::unique_ptr<SharedPages> probe = Pages(64 << 20);
    Together(*probe);
    for (uint64_t after : {0, 10, 20}) {
      const SharedPage page = Read(*probe, PageFor(peer_a_, after));
      page_bytes = std::max(page_bytes, SharedPages::Charge(PageFor(peer_a_, after), *page.wire));
    }
  }
  std::unique_ptr<SharedPages> pages = Pages(2 * page_bytes + page_bytes / 2);
  Together(*pages);
  for (uint64_t after : {0, 10, 20}) Read(*pages, PageFor(peer_a_, after));
  EXPECT_LE(pages->held_bytes(), 2 * page_bytes + page_bytes / 2);
  EXPECT_GT(pages->held_bytes(), page_bytes);
  Read(*pages, PageFor(peer_b_, 20));  // kept
  Read(*pages, PageFor(peer_b_, 0));   // dropped first
  EXPECT_EQ(pages->hits(), 1u);
  EXPECT_EQ(pages->scans(), 6u);

  std::unique_ptr<SharedPages> none = Pages(0);
  Together(*none);
  Read(*none, PageFor(peer_a_, 0));
  Read(*none, PageFor(peer_b_, 0));
  EXPECT_EQ(none->hits(), 0u);
  EXPECT_EQ(none->held_bytes(), 0u);
}

// A live page (a commit's few changes, read by every subscriber at the head) is built in
// a buffer reserved for a full page or reused from one: it is kept in one of its size.
TEST_F(SharedPagesTest, ASmallPageInABigBufferIsKeptInOneOfItsSize) {
  Append(2);
  auto big = std::make_unique<std::string>();
  big->reserve(1 << 20);
  WireBufferPool::Shared().Give(std::move(big));  // the next page's buffer
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Together(*pages);
  const SharedPage kept = Read(*pages, PageFor(peer_a_, 0));
  EXPECT_EQ(kept.result.appended, 3u);
  EXPECT_EQ(*kept.wire, Fresh(PageFor(peer_a_, 0)));
  EXPECT_LT(kept.wire->capacity(), 64u << 10);
  EXPECT_EQ(pages->held_bytes(), SharedPages::Charge(PageFor(peer_a_, 0), *kept.wire));
}

// A peer chooses its filters, and the key a page is kept under is made of them: a huge
// filter counts against the budget like a huge page.
TEST_F(SharedPagesTest, APagesKeyCountsAgainstTheBudget) {
  Append(4);
  storage::ScanRequest scan = PageFor(peer_a_, 0);
  for (int i = 0; i < 10000; ++i) scan.filter.collectives.push_back(storage::NewUuidV7());
  scan.filter.collectives.push_back(collective_);
  std::unique_ptr<SharedPages> pages = Pages(64 << 10);
  Together(*pages);
  const SharedPage page = Read(*pages, scan);
  EXPECT_EQ(page.result.appended, 5u);
  EXPECT_LT(page.wire->capacity(), 64u << 10);  // the page alone would fit
  EXPECT_GT(SharedPages::Charge(scan, *page.wire), 64u << 10);
  EXPECT_EQ(pages->held_bytes(), 0u);
}

TEST_F(SharedPagesTest, AgedPagesAreDropped) {
  Append(24);
  std::unique_ptr<SharedPages> pages = Pages(64 << 20, absl::Seconds(10));
  Together(*pages);
  Read(*pages, PageFor(peer_a_, 0));
  Advance(absl::Seconds(10));
  Read(*pages, PageFor(peer_b_, 0));  // still kept at its age limit
  EXPECT_EQ(pages->hits(), 1u);
  Advance(absl::Milliseconds(1));
  Read(*pages, PageFor(peer_a_, 0));  // past it: scanned again
  EXPECT_EQ(pages->hits(), 1u);
  EXPECT_EQ(pages->scans(), 4u);
}

TEST_F(SharedPagesTest, ALoneReaderKeepsNoPages) {
  Append(39);
  std::unique_ptr<SharedPages> pages = Pages(64 << 20);
  Read(*pages, PageFor(peer_a_, 0));  // the first reader: alone
  EXPECT_EQ(pages->held_bytes(), 0u);
  Together(*pages);
  Advance(kTogether);
  const SharedPage kept = Read(*pages, PageFor(peer_a_, 0));  // others read just now: kept
  const std::size_t kept_charge = SharedPages::Charge(PageFor(peer_a_, 0), *kept.wire);
  EXPECT_EQ(pages->held_bytes(), kept_charge);
  Advance(absl::Milliseconds(1));
  Read(*pages, PageFor(peer_a_, 10));  // a alone for longer: not kept
  Read(*pages, PageFor(peer_a_, 20));
  EXPECT_EQ(pages->held_bytes(), kept_charge);
  // Another reader comes: pages are kept again, for both.
  const SharedPage b = Read(*pages, PageFor(peer_b_, 30));
  EXPECT_EQ(pages->held_bytes(), kept_charge + SharedPages::Charge(PageFor(peer_b_, 30), *b.wire));
  EXPECT_EQ(Read(*pages, PageFor(peer_a_, 30)).wire, b.wire);
  EXPECT_EQ(pages->hits(), 1u);
  EXPECT_EQ(pages->scans(), 7u);
}

// Peers catching up together ask for the same page at about the same time: those that
// come while it is being scanned wait for that scan instead of scanning it again.
TEST_F(SharedPagesTest, ReadersOfAPageBeingScannedWaitForThatScan) {
  Append(24);
  absl::Notification scanning, release;
  std::atomic<int> scans{0};
  std::unique_ptr<SharedPages> pages = Pages(64 << 20, absl::Seconds(10), [&] {
    if (scans.fetch_add(1) == 2) {  // the first after Together's two
      scanning.Notify();
      release.WaitForNotification();
    }
  });
  constexpr int kReaders = 4;
  std::vector<SharedPage> got(kReaders);
  std::vector<std::thread> readers;
  Together(*pages);
  readers.emplace_back([&] { got[0] = Read(*pages, PageFor(peer_a_, 0)); });
  scanning.WaitForNotification();
  for (int i = 1; i < kReaders; ++i) {
    readers.emplace_back(
        [&, i] { got[i] = Read(*pages, PageFor(std::string(16, static_cast<char>('c' + i)), 0)); });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (pages->waiting() < kReaders - 1 && absl::Now() < deadline) std::this_thread::yield();
  EXPECT_EQ(pages->waiting(), kReaders - 1);
  release.Notify();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(scans.load(), 3);
  EXPECT_EQ(pages->hits(), static_cast<uint64_t>(kReaders - 1));
  for (const SharedPage& page : got) EXPECT_EQ(page.wire, got[0].wire);
}

}  // namespace
}  // namespace pulse::server
