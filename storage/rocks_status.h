// Glue between RocksDB's types and abseil's: status mapping (the one place storage/ maps
// rocksdb::Status) and slice/view conversions. Thread-safe.
#ifndef PULSESYNC_STORAGE_ROCKS_STATUS_H_
#define PULSESYNC_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"

namespace pulse::storage {

// OK stays OK. NotFound -> NOT_FOUND; Corruption -> DATA_LOSS; NoSpace, IOError and
// Busy/TimedOut -> UNAVAILABLE (the caller may retry later); InvalidArgument ->
// INVALID_ARGUMENT; everything else -> INTERNAL. The message names `what` was attempted.
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what);

// Debian's abseil has its own string_view type, distinct from std::string_view.
inline rocksdb::Slice ToSlice(absl::string_view view) {
  return rocksdb::Slice(view.data(), view.size());
}
inline absl::string_view ToView(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_ROCKS_STATUS_H_
