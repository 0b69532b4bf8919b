#include "storage/ids.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/mutex.h"

namespace pulse::storage {

absl::Status ValidateId(absl::string_view id, absl::string_view field) {
  if (id.size() == kIdSize) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": expected a 16-byte id, got ", id.size(), " bytes"));
}

std::string NewUuidV7() {
  static Mutex* mu = new Mutex();
  static absl::BitGen* gen = new absl::BitGen();  // never destroyed: used at exit too
  uint64_t rand_hi, rand_lo;
  {
    MutexLock lock(mu);
    rand_hi = absl::Uniform<uint64_t>(*gen);
    rand_lo = absl::Uniform<uint64_t>(*gen);
  }
  const uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  std::string id(kIdSize, '\0');
  for (int i = 0; i < 6; ++i) id[i] = static_cast<char>(millis >> (8 * (5 - i)));
  for (int i = 6; i < 8; ++i) id[i] = static_cast<char>(rand_hi >> (8 * i));
  for (int i = 8; i < 16; ++i) id[i] = static_cast<char>(rand_lo >> (8 * (i - 8)));
  id[6] = static_cast<char>((id[6] & 0x0F) | 0x70);  // version 7
  id[8] = static_cast<char>((id[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return id;
}

std::string IdToText(absl::string_view id) {
  const std::string hex = absl::BytesToHexString(id);
  if (id.size() != kIdSize) return hex;
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

absl::StatusOr<std::string> IdFromText(absl::string_view text) {
  const std::string hex = absl::StrReplaceAll(text, {{"-", ""}});
  if (hex.size() != 2 * kIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("not a UUID: \"", text, "\""));
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat("not a UUID: \"", text, "\""));
    }
  }
  return absl::HexStringToBytes(hex);
}

}  // namespace pulse::storage
