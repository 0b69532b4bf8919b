#include "storage/change_encoding.h"

#include "google/protobuf/io/coded_stream.h"

namespace pulse::storage {

namespace {

using google::protobuf::io::CodedOutputStream;

constexpr char kLogSequenceTag = (7 << 3) | 0;  // field 7, varint
constexpr char kBaseVersionTag = (8 << 3) | 0;  // field 8, varint

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
  PreEncodedChange encoded(change);
  if (!encoded.ready()) {
    // Unknown fields are written last, after base_version: take the plain way.
    pulsedb::sync::v1::SyncChange copy = change;
    copy.set_log_sequence(log_sequence);
    return copy.SerializeAsString();
  }
  return std::move(encoded).TakeEntry(log_sequence);
}

PreEncodedChange::PreEncodedChange(const pulsedb::sync::v1::SyncChange& change) {
  if (!change.GetReflection()->GetUnknownFields(change).empty()) return;
  // Known fields are serialized in field-number order: log_sequence (7) sits right
  // before base_version (8), the last field, when each is set (non-zero).
  owned_ = change.SerializeAsString();
  tail_ =
      change.base_version() == 0 ? 0 : 1 + CodedOutputStream::VarintSize64(change.base_version());
  const std::size_t old =
      change.log_sequence() == 0 ? 0 : 1 + CodedOutputStream::VarintSize64(change.log_sequence());
  owned_.erase(owned_.size() - tail_ - old, old);
  head_ = owned_.size() - tail_;
  ready_ = true;
}

PreEncodedChange::PreEncodedChange(const pulsedb::sync::v1::SyncChange& change,
                                   absl::string_view received) {
  if (!change.GetReflection()->GetUnknownFields(change).empty()) return;
  const std::string tail =
      change.base_version() == 0 ? "" : kBaseVersionTag + Varint(change.base_version());
  const std::string old =
      change.log_sequence() == 0 ? "" : kLogSequenceTag + Varint(change.log_sequence());
  // Same size as a serializer's output: no field repeated, no default value written, no
  // padded varint, nothing unknown. Then, if the last fields are log_sequence and
  // base_version as a serializer writes them, what precedes them is the rest.
  if (received.size() != change.ByteSizeLong() || received.size() < tail.size() + old.size() ||
      received.substr(received.size() - tail.size()) != tail ||
      received.substr(received.size() - tail.size() - old.size(), old.size()) != old) {
    *this = PreEncodedChange(change);
    return;
  }
  aliased_ = true;
  received_ = received;
  head_ = received.size() - tail.size() - old.size();
  tail_ = tail.size();
  ready_ = true;
}

std::string PreEncodedChange::TakeEntry(uint64_t log_sequence) && {
  if (!aliased_) {
    if (log_sequence != 0) owned_.insert(head_, kLogSequenceTag + Varint(log_sequence));
    return std::move(owned_);
  }
  std::string field;
  std::string out;
  for (absl::string_view piece : Splice(log_sequence, &field))
    out.append(piece.data(), piece.size());
  return out;
}

std::array<absl::string_view, 3> PreEncodedChange::Splice(uint64_t log_sequence,
                                                          std::string* field) const {
  field->clear();
  if (log_sequence != 0) *field = kLogSequenceTag + Varint(log_sequence);
  const absl::string_view all = bytes();
  return {all.substr(0, head_), *field, all.substr(all.size() - tail_)};
}

}  // namespace pulse::storage
