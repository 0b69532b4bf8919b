#include "server/received_push.h"

#include <vector>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

using google::protobuf::internal::WireFormatLite;

// The spans of every `changes` field (1, length-delimited) of a serialized PushRequest,
// in order; false when the top level does not scan.
bool FindChanges(absl::string_view bytes, std::vector<absl::string_view>* changes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(bytes.size());
    if (tag == WireFormatLite::MakeTag(pb::PushRequest::kChangesFieldNumber,
                                       WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) return false;
      const int start = in.CurrentPosition();
      if (!in.Skip(static_cast<int>(length))) return false;
      changes->push_back(bytes.substr(start, length));
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

}  // namespace

absl::Status ReceivedPush::Parse(const grpc::ByteBuffer& bytes) {
  Clear();
  std::vector<grpc::Slice> slices;
  if (!bytes.Dump(&slices).ok()) return absl::InvalidArgumentError("malformed PushRequest");
  absl::string_view whole;
  if (slices.size() == 1) {
    single_ = std::move(slices[0]);
    whole = absl::string_view(reinterpret_cast<const char*>(single_.begin()), single_.size());
  } else {
    joined_.reserve(bytes.Length());
    for (const grpc::Slice& slice : slices) {
      joined_.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    whole = joined_;
  }
  request_ = google::protobuf::Arena::CreateMessage<pb::PushRequest>(&arena_);
  if (whole.size() > static_cast<std::size_t>(INT32_MAX) ||
      !request_->ParseFromArray(whole.data(), static_cast<int>(whole.size()))) {
    return absl::InvalidArgumentError("malformed PushRequest");
  }
  if (!FindChanges(whole, &change_bytes_) ||
      change_bytes_.size() != static_cast<std::size_t>(request_->changes_size())) {
    change_bytes_.clear();
  }
  return absl::OkStatus();
}

void ReceivedPush::Clear() {
  change_bytes_.clear();
  request_ = nullptr;
  arena_.Reset();
  single_ = grpc::Slice();
  joined_.clear();
}

}  // namespace pulse::server
