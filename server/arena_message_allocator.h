// ArenaMessageAllocator: gRPC's MessageAllocator for a callback unary method that puts the
// request and response of each call on one protobuf Arena, freed whole when gRPC releases
// the call. A pushed batch is hundreds of changes with a dozen allocations each; parsing
// them onto an arena replaces thousands of malloc/free pairs (and glibc's consolidation of
// the freed chunks) with a few block allocations. See docs/benchmarks.md. Thread-safe
// (each call gets its own arena).
#ifndef PULSESYNC_SERVER_ARENA_MESSAGE_ALLOCATOR_H_
#define PULSESYNC_SERVER_ARENA_MESSAGE_ALLOCATOR_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace pulse::server {

template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      options.start_block_size = 64 << 10;
      options.max_block_size = 4 << 20;
      return options;
    }
    google::protobuf::Arena arena_;
  };
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_ARENA_MESSAGE_ALLOCATOR_H_
