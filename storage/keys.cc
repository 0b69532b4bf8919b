#include "storage/keys.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/ids.h"

namespace pulse::storage {

absl::string_view CursorKindName(CursorKind kind) {
  switch (kind) {
    case CursorKind::kPush:
      return "push";
    case CursorKind::kPull:
      return "pull";
    case CursorKind::kServed:
      return "served";
  }
  return "unknown";
}

std::string EncodeSequence(uint64_t sequence) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(sequence >> (8 * (7 - i)));
  return out;
}

absl::StatusOr<uint64_t> DecodeSequence(absl::string_view bytes) {
  if (bytes.size() != 8) {
    return absl::InternalError(
        absl::StrCat("corrupt sequence: expected 8 bytes, found ", bytes.size()));
  }
  uint64_t value = 0;
  for (unsigned char c : bytes) value = (value << 8) | c;
  return value;
}

std::string EncodeCursorKey(absl::string_view peer_id, CursorKind kind) {
  std::string key(peer_id);
  key.push_back(static_cast<char>(kind));
  return key;
}

absl::StatusOr<CursorKey> DecodeCursorKey(absl::string_view key) {
  if (key.size() != kIdSize + 1) {
    return absl::InternalError(absl::StrCat("corrupt cursor key of ", key.size(), " bytes"));
  }
  const auto kind = static_cast<uint8_t>(key.back());
  if (kind < static_cast<uint8_t>(CursorKind::kPush) ||
      kind > static_cast<uint8_t>(CursorKind::kServed)) {
    return absl::InternalError(absl::StrCat("corrupt cursor key: unknown kind ", kind));
  }
  return CursorKey{std::string(key.substr(0, kIdSize)), static_cast<CursorKind>(kind)};
}

std::string EncodeTombstoneKey(pulsedb::sync::v1::SyncEntityType type, absl::string_view id) {
  std::string key(1, static_cast<char>(type));
  key.append(id.data(), id.size());
  return key;
}

std::string EncodeRelationIndexKey(absl::string_view experience_id, absl::string_view relation_id) {
  return absl::StrCat(experience_id, relation_id);
}

}  // namespace pulse::storage
