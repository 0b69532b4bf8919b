#include "server/wire_bytes.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/slice.h"
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

}  // namespace

grpc::ByteBuffer OwningByteBuffer(std::unique_ptr<std::string> bytes) {
  grpc::Slice slice = OwningSlice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer OwningByteBuffer(std::unique_ptr<std::string> head,
                                  std::unique_ptr<std::string> body) {
  grpc::Slice slices[] = {OwningSlice(std::move(head)), OwningSlice(std::move(body))};
  return grpc::ByteBuffer(slices, 2);
}

grpc::ByteBuffer SerializedReply(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::MessageLite* message,
                          const char* what) {
  grpc::ByteBuffer copy(request);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed ", what));
  }
  return absl::OkStatus();
}

}  // namespace pulse::server
