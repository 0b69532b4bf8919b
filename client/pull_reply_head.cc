#include "client/pull_reply_head.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::client {

namespace {

using google::protobuf::internal::WireFormatLite;

// PullResponse's field numbers (proto/pulsedb/sync/v1/sync.proto).
constexpr int kChanges = pulsedb::sync::v1::PullResponse::kChangesFieldNumber;
constexpr int kHasMore = pulsedb::sync::v1::PullResponse::kHasMoreFieldNumber;
constexpr int kNewCursor = pulsedb::sync::v1::PullResponse::kNewCursorFieldNumber;
constexpr int kResponder = pulsedb::sync::v1::PullResponse::kResponderInstanceFieldNumber;
constexpr int kHeadSequence = pulsedb::sync::v1::PullResponse::kHeadSequenceFieldNumber;

// The bytes of a length-delimited field whose tag was just read.
bool ReadBytes(google::protobuf::io::CodedInputStream& in, std::string* out) {
  uint32_t length = 0;
  return in.ReadVarint32(&length) && in.ReadString(out, static_cast<int>(length));
}

}  // namespace

std::optional<PullReplyHead> PeekPullReplyHead(const grpc::ByteBuffer& reply) {
  grpc::ByteBuffer shared(reply);  // shares the slices
  grpc::ProtoBufferReader reader(&shared);
  if (!reader.status().ok()) return std::nullopt;
  google::protobuf::io::CodedInputStream in(&reader);
  PullReplyHead head;
  bool has_cursor = false;
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end: a page without changes
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const WireFormatLite::WireType type = WireFormatLite::GetTagWireType(tag);
    if (field == kChanges) break;
    if (field == kHasMore && type == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t value = 0;
      if (!in.ReadVarint64(&value)) return std::nullopt;
      head.has_more = value != 0;
    } else if (field == kNewCursor && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string bytes;
      pulsedb::sync::v1::SyncCursor cursor;
      if (!ReadBytes(in, &bytes) || !cursor.ParseFromString(bytes)) return std::nullopt;
      head.cursor_instance = cursor.instance_id();
      head.new_cursor = cursor.last_sequence();
      has_cursor = true;
    } else if (field == kResponder && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!ReadBytes(in, &head.responder_instance)) return std::nullopt;
    } else if (field == kHeadSequence && type == WireFormatLite::WIRETYPE_VARINT) {
      if (!in.ReadVarint64(&head.head_sequence)) return std::nullopt;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  if (!has_cursor) return std::nullopt;
  return head;
}

}  // namespace pulse::client
