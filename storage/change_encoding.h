// The stored form of a log entry: a SyncChange's wire bytes with its log_sequence set,
// made without copying the change (its embedding alone is 1.5 KB). Byte-identical to
// copying the change, setting log_sequence and serializing it. Pure functions and
// immutable values; thread-safe.
#ifndef PULSESYNC_STORAGE_CHANGE_ENCODING_H_
#define PULSESYNC_STORAGE_CHANGE_ENCODING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

std::string SerializeWithLogSequence(const pulsedb::sync::v1::SyncChange& change,
                                     uint64_t log_sequence);

// A change encoded before its log sequence is known, so that the serializing can be done
// outside a commit's serial staging (Store::ApplyRemoteChanges encodes a part of a batch
// while the part before is staged or written). The entry is `bytes` with the log
// sequence's field spliced in `tail` bytes before their end; Splice gives the three
// pieces, which together are byte-identical to SerializeWithLogSequence.
class PreEncodedChange {
 public:
  PreEncodedChange() = default;
  // Empty (ready() false) for a change with unknown fields (they are serialized after
  // base_version): such a change is encoded at commit time instead.
  explicit PreEncodedChange(const pulsedb::sync::v1::SyncChange& change);

  bool ready() const { return ready_; }
  // The entry with `log_sequence`: bytes before the field, the field, bytes after it.
  // `field` is scratch space for the middle piece; the pieces point into it and into
  // this object.
  std::array<absl::string_view, 3> Splice(uint64_t log_sequence, std::string* field) const;

 private:
  bool ready_ = false;
  std::string bytes_;     // serialized without log_sequence
  std::size_t tail_ = 0;  // bytes of base_version, the field after log_sequence
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_ENCODING_H_
