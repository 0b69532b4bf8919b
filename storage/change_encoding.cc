#include "storage/change_encoding.h"

#include "google/protobuf/io/coded_stream.h"

namespace pulse::storage {

namespace {

using google::protobuf::io::CodedOutputStream;

constexpr char kLogSequenceTag = (7 << 3) | 0;  // field 7, varint

std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

}  // namespace

std::string SerializeWithLogSequence(const pulsedb::sync::v1::SyncChange& change,
                                     uint64_t log_sequence) {
  const PreEncodedChange encoded(change);
  if (!encoded.ready()) {
    // Unknown fields are written last, after base_version: take the plain way.
    pulsedb::sync::v1::SyncChange copy = change;
    copy.set_log_sequence(log_sequence);
    return copy.SerializeAsString();
  }
  std::string field;
  std::string out;
  for (absl::string_view piece : encoded.Splice(log_sequence, &field)) {
    out.append(piece.data(), piece.size());
  }
  return out;
}

PreEncodedChange::PreEncodedChange(const pulsedb::sync::v1::SyncChange& change) {
  if (!change.GetReflection()->GetUnknownFields(change).empty()) return;
  // Known fields are serialized in field-number order: log_sequence (7) sits right
  // before base_version (8), the last field, when each is set (non-zero).
  bytes_ = change.SerializeAsString();
  tail_ =
      change.base_version() == 0 ? 0 : 1 + CodedOutputStream::VarintSize64(change.base_version());
  const std::size_t old =
      change.log_sequence() == 0 ? 0 : 1 + CodedOutputStream::VarintSize64(change.log_sequence());
  bytes_.erase(bytes_.size() - tail_ - old, old);
  ready_ = true;
}

std::array<absl::string_view, 3> PreEncodedChange::Splice(uint64_t log_sequence,
                                                          std::string* field) const {
  field->clear();
  if (log_sequence != 0) *field = kLogSequenceTag + Varint(log_sequence);
  const absl::string_view bytes(bytes_);
  const std::size_t split = bytes.size() - tail_;
  return {bytes.substr(0, split), *field, bytes.substr(split)};
}

}  // namespace pulse::storage
