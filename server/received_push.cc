#include "server/received_push.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

using google::protobuf::internal::WireFormatLite;

// The slices of a message, read in order without copying.
class SliceStream final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  explicit SliceStream(const std::vector<grpc::Slice>& slices) : slices_(slices) {}

  bool Next(const void** data, int* size) override {
    if (backed_up_ > 0) {
      const grpc::Slice& slice = slices_[next_ - 1];
      *data = slice.begin() + slice.size() - backed_up_;
      *size = backed_up_;
      read_ += backed_up_;
      backed_up_ = 0;
      return true;
    }
    while (next_ < slices_.size() && slices_[next_].size() == 0) ++next_;
    if (next_ == slices_.size()) return false;
    const grpc::Slice& slice = slices_[next_++];
    *data = slice.begin();
    *size = static_cast<int>(slice.size());
    read_ += *size;
    return true;
  }
  void BackUp(int count) override {
    backed_up_ = count;
    read_ -= count;
  }
  bool Skip(int count) override {
    const void* data;
    int size;
    while (count > 0) {
      if (!Next(&data, &size)) return false;
      if (size > count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return true;
  }
  int64_t ByteCount() const override { return read_; }

 private:
  const std::vector<grpc::Slice>& slices_;
  std::size_t next_ = 0;
  int backed_up_ = 0;
  int64_t read_ = 0;
};

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
  // embedding's floats; string contents live outside the arena).
  const std::size_t wanted = bytes + bytes / 2 + 4096;
  if (!arena_.has_value() || block_size_ < wanted) {
    arena_.reset();
    block_size_ = std::max<std::size_t>(wanted, 64 << 10);
    block_.reset(new char[block_size_]);
    google::protobuf::ArenaOptions options;
    options.initial_block = block_.get();
    options.initial_block_size = block_size_;
    options.max_block_size = 256 << 10;  // beyond the first block, should it not do
    arena_.emplace(options);
  }
  return *arena_;
}

bool ReceivedPush::FindChanges(std::size_t total) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  {
    SliceStream stream(slices_);
    google::protobuf::io::CodedInputStream in(&stream);
    if (!ScanChanges(in, total, &spans)) return false;
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
  bool parsed;
  if (slices_.size() == 1) {
    parsed = request_->ParseFromArray(slices_[0].begin(), static_cast<int>(total));
  } else {
    SliceStream stream(slices_);
    parsed = request_->ParseFromZeroCopyStream(&stream);
  }
  if (!parsed) {
    request_ = nullptr;
    return absl::InvalidArgumentError("malformed PushRequest");
  }
  if (!FindChanges(total) ||
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
