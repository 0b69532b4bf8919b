// ReceivedPush: a PushRequest as it arrived (gRPC bytes), parsed onto its own protobuf
// arena, with the bytes each change came in. The log stores a pushed change's bytes as
// they came when they are in serialized form (storage::PreEncodedChange), so the hub
// neither re-serializes nor copies them before its commit.
//
// The request is parsed from gRPC's slices where they lie (a megabyte request comes in
// dozens of them), and each change's bytes are a view into its slice; only a change cut
// by a slice boundary is copied, into a buffer of its own. The arena's first block is
// sized to the request (up to 4 MiB) and kept between requests, so a parse allocates no
// arena blocks (protobuf's default grows blocks to 8 KiB: ~140 mallocs per request).
//
// Not thread-safe; reusable (Clear) so that its arena block and buffers are kept.
#ifndef PULSESYNC_SERVER_RECEIVED_PUSH_H_
#define PULSESYNC_SERVER_RECEIVED_PUSH_H_

#include <cstddef>
#include <memory>
#include <optional>
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

  // Parses `bytes`, holding references to their slices until Clear. INVALID_ARGUMENT
  // ("malformed PushRequest") when they are not one.
  absl::Status Parse(const grpc::ByteBuffer& bytes);
  // After a successful Parse.
  const pulsedb::sync::v1::PushRequest& request() const { return *request_; }
  // The bytes of request().changes(i), one per change; empty when they could not be
  // told apart (the changes are then serialized as usual).
  const std::vector<absl::string_view>& change_bytes() const { return change_bytes_; }
  // Frees the request (its arena is reset, keeping its first block) and forgets the
  // bytes.
  void Clear();

 private:
  // An arena whose first block holds at least `bytes`.
  google::protobuf::Arena& ArenaFor(std::size_t bytes);
  // Finds each change's span in `bytes` (`total` of them, held as slices_): views into
  // the slices, or copies into `cut_changes_`.
  bool FindChanges(const grpc::ByteBuffer& bytes, std::size_t total);

  std::unique_ptr<char[]> block_;  // the arena's first block, of block_size_ bytes
  std::size_t block_size_ = 0;
  std::optional<google::protobuf::Arena> arena_;  // after block_: destroyed first
  pulsedb::sync::v1::PushRequest* request_ = nullptr;
  std::vector<grpc::Slice> slices_;  // the request's bytes, as received
  std::string cut_changes_;          // changes cut by a slice boundary, joined
  std::vector<absl::string_view> change_bytes_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_RECEIVED_PUSH_H_
