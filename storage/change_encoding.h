// The stored form of a log entry: a SyncChange's wire bytes with its log_sequence set,
// made without copying the change (its embedding alone is 1.5 KB). Byte-identical to
// copying the change, setting log_sequence and serializing it. Pure function; thread-safe.
#ifndef PULSESYNC_STORAGE_CHANGE_ENCODING_H_
#define PULSESYNC_STORAGE_CHANGE_ENCODING_H_

#include <cstdint>
#include <string>

#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

std::string SerializeWithLogSequence(const pulsedb::sync::v1::SyncChange& change,
                                     uint64_t log_sequence);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_CHANGE_ENCODING_H_
