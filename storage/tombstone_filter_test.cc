#include "storage/tombstone_filter.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/keys.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

std::string KeyOf(int i) {
  return EncodeTombstoneKey(pb::SYNC_ENTITY_TYPE_EXPERIENCE, absl::StrCat("experience-", i));
}

TEST(TombstoneFilterTest, EveryKeyAddedMayBeContainedAndFewOthersAre) {
  TombstoneFilter filter(TombstoneFilter::kMinKeys);
  const int keys = static_cast<int>(TombstoneFilter::kMinKeys);
  for (int i = 0; i < keys; ++i) filter.Add(KeyOf(i));
  for (int i = 0; i < keys; ++i) ASSERT_TRUE(filter.MayContain(KeyOf(i))) << i;
  int false_positives = 0;
  for (int i = keys; i < 2 * keys; ++i) false_positives += filter.MayContain(KeyOf(i)) ? 1 : 0;
  // About 1-2 % when full, at 10 bits a key.
  EXPECT_LT(false_positives, keys / 40) << false_positives << " of " << keys;
  EXPECT_FALSE(filter.saturated());
}

TEST(TombstoneFilterTest, AnEmptyFilterContainsNothing) {
  TombstoneFilter filter(0);
  EXPECT_EQ(filter.capacity(), TombstoneFilter::kMinKeys);
  for (int i = 0; i < 10000; ++i) ASSERT_FALSE(filter.MayContain(KeyOf(i))) << i;
}

TEST(TombstoneFilterTest, TheSameIdOfAnotherTypeIsAnotherKey) {
  TombstoneFilter filter(0);
  filter.Add(EncodeTombstoneKey(pb::SYNC_ENTITY_TYPE_EXPERIENCE, "0123456789abcdef"));
  EXPECT_TRUE(
      filter.MayContain(EncodeTombstoneKey(pb::SYNC_ENTITY_TYPE_EXPERIENCE, "0123456789abcdef")));
  EXPECT_FALSE(
      filter.MayContain(EncodeTombstoneKey(pb::SYNC_ENTITY_TYPE_RELATION, "0123456789abcdef")));
}

TEST(TombstoneFilterTest, PastItsCapacityEveryKeyMustBeLookedUp) {
  TombstoneFilter filter(0);
  const int keys = static_cast<int>(filter.capacity());
  for (int i = 0; i < keys; ++i) filter.Add(KeyOf(i));
  EXPECT_FALSE(filter.saturated());
  filter.Add(KeyOf(keys));
  EXPECT_TRUE(filter.saturated());
  for (int i = keys + 1; i < keys + 10000; ++i) ASSERT_TRUE(filter.MayContain(KeyOf(i))) << i;
}

TEST(TombstoneFilterTest, KeysAddedWhileOthersAreLookedUpAreAllKept) {
  TombstoneFilter filter(0);
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 20000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    int i = 0;
    while (!done.load()) filter.MayContain(KeyOf(i++ % (kWriters * kPerWriter)));
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&filter, w] {
      for (int i = 0; i < kPerWriter; ++i) filter.Add(KeyOf(w * kPerWriter + i));
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();
  for (int i = 0; i < kWriters * kPerWriter; ++i) ASSERT_TRUE(filter.MayContain(KeyOf(i))) << i;
}

}  // namespace
}  // namespace pulse::storage
