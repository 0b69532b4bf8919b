#include "storage/tombstone_filter.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/numeric/int128.h"

namespace pulse::storage {

namespace {

// A second, independent-enough hash for the bit positions within a line.
uint64_t Remix(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  return hash;
}

}  // namespace

TombstoneFilter::TombstoneFilter(std::size_t expected_keys)
    : capacity_(std::max(expected_keys, kMinKeys)),
      // 10 bits a key, in whole lines of 512 bits.
      lines_((capacity_ * 10 + 511) / 512),
      words_(new std::atomic<uint64_t>[lines_ * kWordsPerLine]) {
  for (std::size_t i = 0; i < lines_ * kWordsPerLine; ++i) {
    words_[i].store(0, std::memory_order_relaxed);
  }
}

std::size_t TombstoneFilter::LineOf(uint64_t hash) const {
  // Maps the hash onto [0, lines_) without a division.
  return static_cast<std::size_t>(absl::Uint128High64(absl::uint128(hash) * lines_));
}

void TombstoneFilter::Add(absl::string_view key) {
  added_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t hash = absl::Hash<absl::string_view>{}(key);
  std::atomic<uint64_t>* line = &words_[LineOf(hash) * kWordsPerLine];
  uint64_t bits = Remix(hash);
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    const unsigned bit = static_cast<unsigned>(bits & 511);
    line[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
  }
}

bool TombstoneFilter::MayContain(absl::string_view key) const {
  if (saturated()) return true;
  const uint64_t hash = absl::Hash<absl::string_view>{}(key);
  const std::atomic<uint64_t>* line = &words_[LineOf(hash) * kWordsPerLine];
  uint64_t bits = Remix(hash);
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    const unsigned bit = static_cast<unsigned>(bits & 511);
    if ((line[bit / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (bit % 64))) == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace pulse::storage
