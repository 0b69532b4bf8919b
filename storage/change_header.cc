#include "storage/change_header.h"

namespace pulse::storage {

namespace {

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

}  // namespace

bool ReadChangeHeader(absl::string_view wire, ChangeHeader* header) {
  *header = ChangeHeader();
  const char* p = wire.data();
  const char* const end = wire.data() + wire.size();
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    const uint64_t field = tag >> 3;
    switch (tag & 7) {
      case 0: {  // varint
        uint64_t value;
        if (!ReadVarint(p, end, &value)) return false;
        if (field == 1) header->sequence = value;
        if (field == 4) header->entity_type = static_cast<int>(static_cast<int32_t>(value));
        if (field == 6) header->timestamp = static_cast<int64_t>(value);
        break;
      }
      case 1:  // fixed64
        if (end - p < 8) return false;
        p += 8;
        break;
      case 2: {  // length-delimited
        uint64_t length;
        if (!ReadVarint(p, end, &length) || length > static_cast<uint64_t>(end - p)) return false;
        const absl::string_view bytes(p, length);
        if (field == 2) header->source_instance = bytes;
        if (field == 3) header->collective_id = bytes;
        p += length;
        break;
      }
      case 5:  // fixed32
        if (end - p < 4) return false;
        p += 4;
        break;
      default:  // groups: never written by proto3
        return false;
    }
  }
  return true;
}

}  // namespace pulse::storage
