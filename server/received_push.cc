#include "server/received_push.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/wire_bytes.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

using google::protobuf::internal::WireFormatLite;

// The spans (offset, length) of every `changes` field (1, length-delimited) of a
// serialized PushRequest read from `in`, in order; false when the top level does not
// scan to exactly `total` bytes.
bool ScanChanges(google::protobuf::io::CodedInputStream& in, std::size_t total,
                 std::vector<std::pair<std::size_t, std::size_t>>* spans) {
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(total);
    if (tag == WireFormatLite::MakeTag(pb::PushRequest::kChangesFieldNumber,
                                       WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) return false;
      const int start = in.CurrentPosition();
      if (!in.Skip(static_cast<int>(length))) return false;
      spans->emplace_back(start, length);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

}  // namespace

google::protobuf::Arena& ReceivedPush::ArenaFor(std::size_t bytes) {
  // Parsed, a change takes a little more than its wire size (message objects, the
  // embedding's floats; string contents live outside the arena). A first block is kept
  // for requests of up to a few megabytes (a full batch of experiences); a larger one,
  // rare, grows the arena in further blocks instead, so that one big request does not
  // pin its size in memory for good.
  constexpr std::size_t kMinBlock = 64 << 10;
  constexpr std::size_t kMaxBlock = 4 << 20;
  const std::size_t wanted = std::clamp(bytes + bytes / 2 + 4096, kMinBlock, kMaxBlock);
  if (!arena_.has_value() || block_size_ < wanted) {
    arena_.reset();
    block_size_ = wanted;
    block_.reset(new char[block_size_]);
    google::protobuf::ArenaOptions options;
    options.initial_block = block_.get();
    options.initial_block_size = block_size_;
    options.max_block_size = 256 << 10;  // beyond the first block, should it not do
    arena_.emplace(options);
  }
  return *arena_;
}

bool ReceivedPush::FindChanges(const grpc::ByteBuffer& bytes, std::size_t total) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  {
    grpc::ByteBuffer shared(bytes);  // shares the slices
    grpc::ProtoBufferReader reader(&shared);
    google::protobuf::io::CodedInputStream in(&reader);
    if (!reader.status().ok() || !ScanChanges(in, total, &spans)) return false;
  }
  // Where each slice starts in the message.
  std::vector<std::size_t> starts;
  starts.reserve(slices_.size() + 1);
  std::size_t at = 0;
  for (const grpc::Slice& slice : slices_) {
    starts.push_back(at);
    at += slice.size();
  }
  starts.push_back(at);
  auto slice_of = [&](std::size_t offset) {  // the slice holding byte `offset`
    return static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), offset) -
                                    starts.begin()) -
           1;
  };
  std::size_t cut_bytes = 0;
  for (const auto& [start, length] : spans) {
    if (length > 0 && slice_of(start) != slice_of(start + length - 1)) cut_bytes += length;
  }
  cut_changes_.clear();
  cut_changes_.reserve(cut_bytes);  // views into it stay valid: it never grows past this
  change_bytes_.reserve(spans.size());
  for (const auto& [start, length] : spans) {
    if (length == 0) {
      change_bytes_.emplace_back();
      continue;
    }
    std::size_t s = slice_of(start);
    const char* first = reinterpret_cast<const char*>(slices_[s].begin()) + (start - starts[s]);
    if (start + length <= starts[s + 1]) {
      change_bytes_.emplace_back(first, length);
      continue;
    }
    const std::size_t from = cut_changes_.size();
    for (std::size_t offset = start; offset < start + length; offset = starts[++s]) {
      const std::size_t end = std::min(start + length, starts[s + 1]);
      cut_changes_.append(reinterpret_cast<const char*>(slices_[s].begin()) + (offset - starts[s]),
                          end - offset);
    }
    change_bytes_.emplace_back(cut_changes_.data() + from, length);
  }
  return true;
}

absl::Status ReceivedPush::Parse(const grpc::ByteBuffer& bytes) {
  Clear();
  if (!bytes.Dump(&slices_).ok()) return absl::InvalidArgumentError("malformed PushRequest");
  const std::size_t total = bytes.Length();
  if (total > static_cast<std::size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("malformed PushRequest");
  }
  request_ = google::protobuf::Arena::CreateMessage<pb::PushRequest>(&ArenaFor(total));
  if (absl::Status s = ParseRequest(bytes, request_, "PushRequest"); !s.ok()) {
    request_ = nullptr;
    return s;
  }
  if (!FindChanges(bytes, total) ||
      change_bytes_.size() != static_cast<std::size_t>(request_->changes_size())) {
    change_bytes_.clear();
  }
  return absl::OkStatus();
}

void ReceivedPush::Clear() {
  change_bytes_.clear();
  request_ = nullptr;
  if (arena_.has_value()) arena_->Reset();
  slices_.clear();
  cut_changes_.clear();
}

}  // namespace pulse::server
