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
  // `received` are the bytes `change` was parsed from (a pushed change as it came off
  // the wire). They are used as they are, without serializing or copying (they must
  // outlive this object), when they are what serializing `change` would give in size,
  // with no unknown fields and log_sequence and base_version where a serializer puts
  // them (last); otherwise `change` is serialized as above. A sender's serializer may
  // order the other fields differently: the entry then parses to the same change but is
  // not byte-identical to SerializeWithLogSequence's.
  PreEncodedChange(const pulsedb::sync::v1::SyncChange& change, absl::string_view received);

  bool ready() const { return ready_; }
  // The entry with `log_sequence`: bytes before the field, the field, bytes after it.
  // `field` is scratch space for the middle piece; the pieces point into it and into
  // this object (or the received bytes).
  std::array<absl::string_view, 3> Splice(uint64_t log_sequence, std::string* field) const;
  // The whole entry with `log_sequence`, as one string (built in place in the owned
  // bytes when there are any; this object is spent).
  std::string TakeEntry(uint64_t log_sequence) &&;

 private:
  absl::string_view bytes() const { return aliased_ ? received_ : owned_; }

  bool ready_ = false;
  bool aliased_ = false;        // the pieces are in received_, not owned_
  std::string owned_;           // serialized without log_sequence
  absl::string_view received_;  // the change's bytes as received, log_sequence included
  std::size_t head_ = 0;        // bytes before where log_sequence goes
  std::size_t tail_ = 0;        // bytes of base_version, the field after log_sequence
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_ENCODING_H_
