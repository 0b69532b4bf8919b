// The on-disk layout: column-family names and key encodings, in one place. Pure
// functions, thread-safe. Every other file goes through these; there is no second copy.
//
//   meta            "instance_id" -> 16 bytes; "head" / "compacted_through" -> u64
//   collectives     id -> VersionedEntity          (likewise experiences, relations,
//   experiences     id -> VersionedEntity           insights)
//   relations       id -> VersionedEntity
//   insights        id -> VersionedEntity
//   relation_index  experience id + relation id -> ""  (relations touching an experience)
//   tombstones      entity type (1 byte) + id -> Tombstone
//   wal             u64 sequence -> SyncChange (with log_sequence set)
//   cursors         peer id + kind (1 byte) -> u64 sequence
//   origins         origin id -> u64 highest applied origin sequence
//   peers           peer id -> PeerInfo (peers that completed a handshake with this hub)
// All integers are big-endian, so byte order is numeric order.
#ifndef PULSESYNC_STORAGE_KEYS_H_
#define PULSESYNC_STORAGE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::storage {

inline constexpr char kMetaFamily[] = "meta";
inline constexpr char kCollectivesFamily[] = "collectives";
inline constexpr char kExperiencesFamily[] = "experiences";
inline constexpr char kRelationsFamily[] = "relations";
inline constexpr char kInsightsFamily[] = "insights";
inline constexpr char kRelationIndexFamily[] = "relation_index";
inline constexpr char kTombstonesFamily[] = "tombstones";
inline constexpr char kWalFamily[] = "wal";
inline constexpr char kCursorsFamily[] = "cursors";
inline constexpr char kOriginsFamily[] = "origins";
inline constexpr char kPeersFamily[] = "peers";

inline constexpr char kMetaInstanceId[] = "instance_id";
inline constexpr char kMetaHead[] = "head";
inline constexpr char kMetaCompactedThrough[] = "compacted_through";

// What a stored cursor measures.
enum class CursorKind : uint8_t {
  // Peer side: this store's log sequence (own changes) the hub has acknowledged.
  kPush = 1,
  // Peer side: the hub's log sequence this store has applied.
  kPull = 2,
  // Hub side: this store's log sequence a peer has been served up to.
  kServed = 3,
};

absl::string_view CursorKindName(CursorKind kind);

// 8 bytes, big-endian.
std::string EncodeSequence(uint64_t sequence);
// INTERNAL error (corruption) unless exactly 8 bytes.
absl::StatusOr<uint64_t> DecodeSequence(absl::string_view bytes);

// peer id (16 bytes) + kind.
std::string EncodeCursorKey(absl::string_view peer_id, CursorKind kind);
struct CursorKey {
  std::string peer_id;
  CursorKind kind;
};
absl::StatusOr<CursorKey> DecodeCursorKey(absl::string_view key);

// entity type (1 byte) + id (16 bytes).
std::string EncodeTombstoneKey(pulsedb::sync::v1::SyncEntityType type, absl::string_view id);

// experience id + relation id.
std::string EncodeRelationIndexKey(absl::string_view experience_id, absl::string_view relation_id);

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_KEYS_H_
