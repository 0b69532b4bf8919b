// ReceivedPush: a PushRequest as it arrived (gRPC bytes), parsed onto its own protobuf
// arena, with the bytes each change came in. The log stores a pushed change's bytes as
// they came when they are in serialized form (storage::PreEncodedChange), so the hub
// neither re-serializes nor copies them before its commit. A request that came in one
// slice is used in place; one in several is copied once into one buffer. Not
// thread-safe; reusable (Clear) so that its arena and buffer are kept between requests.
#ifndef PULSESYNC_SERVER_RECEIVED_PUSH_H_
#define PULSESYNC_SERVER_RECEIVED_PUSH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/byte_buffer.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::server {

class ReceivedPush {
 public:
  ReceivedPush() = default;
  ReceivedPush(const ReceivedPush&) = delete;
  ReceivedPush& operator=(const ReceivedPush&) = delete;

  // Parses `bytes`, which it holds (a reference to their one slice, or a copy) until
  // Clear. INVALID_ARGUMENT ("malformed PushRequest") when they are not one.
  absl::Status Parse(const grpc::ByteBuffer& bytes);
  // After a successful Parse.
  const pulsedb::sync::v1::PushRequest& request() const { return *request_; }
  // The bytes of request().changes(i), one per change; empty when they could not be
  // told apart (the changes are then serialized as usual).
  const std::vector<absl::string_view>& change_bytes() const { return change_bytes_; }
  // Frees the request (its arena is reset) and forgets the bytes.
  void Clear();

 private:
  google::protobuf::Arena arena_;
  pulsedb::sync::v1::PushRequest* request_ = nullptr;
  grpc::Slice single_;  // the request's bytes when they came in one slice
  std::string joined_;  // else its slices, joined
  std::vector<absl::string_view> change_bytes_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_RECEIVED_PUSH_H_
