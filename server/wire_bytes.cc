#include "server/wire_bytes.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/slice.h"
#include "server/library_logs.h"
#include "server/wire_buffer_pool.h"

namespace pulse::server {

namespace {

grpc::Slice OwningSlice(std::unique_ptr<std::string> bytes) {
  std::string* owned = bytes.release();
  return grpc::Slice(
      owned->data(), owned->size(),
      [](void* p) {
        WireBufferPool::Shared().Give(std::unique_ptr<std::string>(static_cast<std::string*>(p)));
      },
      owned);
}

grpc::Slice SharingSlice(std::shared_ptr<const std::string> bytes) {
  const std::string& shared = *bytes;
  return grpc::Slice(
      const_cast<char*>(shared.data()), shared.size(),
      [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); },
      new std::shared_ptr<const std::string>(std::move(bytes)));
}

}  // namespace

grpc::ByteBuffer SharedByteBuffer(std::unique_ptr<std::string> front,
                                  std::shared_ptr<const std::string> shared,
                                  std::unique_ptr<std::string> back) {
  std::vector<grpc::Slice> slices;
  slices.reserve(3);
  if (front != nullptr && !front->empty()) slices.push_back(OwningSlice(std::move(front)));
  if (shared != nullptr && !shared->empty()) slices.push_back(SharingSlice(std::move(shared)));
  if (back != nullptr && !back->empty()) slices.push_back(OwningSlice(std::move(back)));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

grpc::ByteBuffer SerializedReply(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::MessageLite* message,
                          const char* what) {
  grpc::ByteBuffer copy(request);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  const ProtobufReason reason;  // protobuf names a string that is not UTF-8 only in its log
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ", what, reason.text().empty() ? "" : ": ", reason.text()));
  }
  return absl::OkStatus();
}

}  // namespace pulse::server
