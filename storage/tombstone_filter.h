// TombstoneFilter: which tombstone keys (keys.h, EncodeTombstoneKey) the store may hold,
// as an in-memory Bloom filter, so that the tombstone check of every create costs a few
// memory reads rather than a RocksDB Get (about 1,100 instructions even when RocksDB's
// own bloom filter answers; docs/benchmarks.md).
//
// The contract the store keeps: every tombstone key in the database, or staged in a
// commit group, has been Added (the store Adds what it finds at open, and WriteTxn Adds
// every key it stages into the tombstone family). MayContain is then false only for keys
// that are certainly absent; true means "look it up". A tombstone deleted later (purged)
// or a staged one rolled back keeps its bits: a false positive, never a false negative.
// Once more keys have been Added than it was sized for, it answers true for every key
// (saturated): the store then looks every key up, as it would without a filter, until
// it is reopened (and the filter sized anew).
//
// Thread-safe: Add and MayContain may run concurrently (atomic words).
#ifndef PULSESYNC_STORAGE_TOMBSTONE_FILTER_H_
#define PULSESYNC_STORAGE_TOMBSTONE_FILTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"

namespace pulse::storage {

class TombstoneFilter {
 public:
  // Sized for `expected_keys` (at least kMinKeys) at about 10 bits a key: under 2.5 %
  // false positives until then (tombstone_filter_test).
  explicit TombstoneFilter(std::size_t expected_keys);
  TombstoneFilter(const TombstoneFilter&) = delete;
  TombstoneFilter& operator=(const TombstoneFilter&) = delete;

  static constexpr std::size_t kMinKeys = 1 << 18;  // 320 KiB

  void Add(absl::string_view key);
  bool MayContain(absl::string_view key) const;

  std::size_t capacity() const { return capacity_; }
  bool saturated() const { return added_.load(std::memory_order_relaxed) > capacity_; }

 private:
  static constexpr int kWordsPerLine = 8;  // a 64-byte cache line: one line per key
  static constexpr int kProbes = 6;

  // The line a key's bits are in, and the hash its bits within the line come from.
  std::size_t LineOf(uint64_t hash) const;

  const std::size_t capacity_;
  const std::size_t lines_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;  // lines_ * kWordsPerLine
  std::atomic<std::size_t> added_{0};
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_TOMBSTONE_FILTER_H_
