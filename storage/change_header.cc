#include "storage/change_header.h"

namespace pulse::storage {

namespace {

// Wire types (the low three bits of a tag).
constexpr uint64_t kVarint = 0;
constexpr uint64_t kFixed64 = 1;
constexpr uint64_t kLengthDelimited = 2;
constexpr uint64_t kStartGroup = 3;
constexpr uint64_t kEndGroup = 4;
constexpr uint64_t kFixed32 = 5;
// How deep groups may nest: protobuf's own parser stops at 100 nested messages or groups.
constexpr int kMaxGroupDepth = 100;

bool ReadVarint(const char*& p, const char* end, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

// The bytes of a length-delimited value (its length just read at `p`); `p` moves past
// them.
bool ReadLengthDelimited(const char*& p, const char* end, absl::string_view* bytes) {
  uint64_t length;
  if (!ReadVarint(p, end, &length) || length > static_cast<uint64_t>(end - p)) return false;
  *bytes = absl::string_view(p, length);
  p += length;
  return true;
}

// Moves `p` past the value of a field whose tag was just read, as protobuf's parser
// does for a field it does not know. A group (proto2's, or an unknown field a sender
// wrote as one: protobuf 3 parses and keeps it) runs up to the end-group tag of its own
// field number. False on malformed bytes.
bool SkipValue(const char*& p, const char* end, uint64_t tag, int depth) {
  switch (tag & 7) {
    case kVarint: {
      uint64_t ignored;
      return ReadVarint(p, end, &ignored);
    }
    case kFixed64:
      if (end - p < 8) return false;
      p += 8;
      return true;
    case kLengthDelimited: {
      absl::string_view ignored;
      return ReadLengthDelimited(p, end, &ignored);
    }
    case kStartGroup: {
      if (depth >= kMaxGroupDepth) return false;
      for (;;) {
        uint64_t inner;
        if (p >= end || !ReadVarint(p, end, &inner)) return false;
        if ((inner & 7) == kEndGroup) return (inner >> 3) == (tag >> 3);
        if (!SkipValue(p, end, inner, depth + 1)) return false;
      }
    }
    case kFixed32:
      if (end - p < 4) return false;
      p += 4;
      return true;
    default:  // an end-group tag with no group open, or wire types 6 and 7
      return false;
  }
}

}  // namespace

bool ReadChangeHeader(absl::string_view wire, ChangeHeader* header) {
  *header = ChangeHeader();
  const char* p = wire.data();
  const char* const end = wire.data() + wire.size();
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint64_t field = tag >> 3;
    if (field == 0) return false;  // protobuf refuses field number 0
    const uint64_t type = tag & 7;
    // As protobuf reads them: the last occurrence of a field wins; a field of another
    // wire type than its declared one is an unknown field.
    if (type == kVarint && (field == 1 || field == 4 || field == 6)) {
      uint64_t value;
      if (!ReadVarint(p, end, &value)) return false;
      if (field == 1) header->sequence = value;
      if (field == 4) header->entity_type = static_cast<int>(static_cast<int32_t>(value));
      if (field == 6) header->timestamp = static_cast<int64_t>(value);
    } else if (type == kLengthDelimited && (field == 2 || field == 3)) {
      absl::string_view bytes;
      if (!ReadLengthDelimited(p, end, &bytes)) return false;
      if (field == 2) header->source_instance = bytes;
      if (field == 3) header->collective_id = bytes;
    } else if (!SkipValue(p, end, tag, 0)) {
      return false;
    }
  }
  return true;
}

}  // namespace pulse::storage
