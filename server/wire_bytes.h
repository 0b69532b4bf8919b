// Replies the hub serves as bytes it framed itself (Pull's and Subscribe's pages of log
// entries as stored, see ChangeLog::ScanWire): handing such bytes to gRPC without a copy,
// and reading a request gRPC handed over as bytes.
// Pure functions; thread-safe.
#ifndef PULSESYNC_SERVER_WIRE_BYTES_H_
#define PULSESYNC_SERVER_WIRE_BYTES_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"

namespace pulse::server {

// A ByteBuffer of `front`, `shared` then `back`, without a copy: `front` and `back`, owned,
// are given back to WireBufferPool::Shared() (or freed) when gRPC is done with them, and
// `shared` (a page several replies may serve, see shared_pages.h) is held until then. A
// message whose leading fields are framed after its bulk (a page's cursor, known once its
// changes are scanned) still goes out with those fields first. A null or empty part is
// left out.
grpc::ByteBuffer SharedByteBuffer(std::unique_ptr<std::string> front,
                                  std::shared_ptr<const std::string> shared,
                                  std::unique_ptr<std::string> back);

// `message` serialized into a ByteBuffer (a small reply answered as bytes: Push's).
grpc::ByteBuffer SerializedReply(const google::protobuf::MessageLite& message);

// Parses `request` into `message`. INVALID_ARGUMENT naming `what` when malformed, with
// protobuf's reason when it gave one (library_logs.h: a string field that is not UTF-8).
absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::MessageLite* message,
                          const char* what);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_WIRE_BYTES_H_
