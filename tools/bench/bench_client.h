// Client-side helpers of the benchmark scenarios: channels to a hub on loopback, the
// handshake every peer makes first, and loading a hub's log with the workload. They act
// as peers do, over the real gRPC stubs. Thread-safe (no shared state).
#ifndef PULSESYNC_TOOLS_BENCH_BENCH_CLIENT_H_
#define PULSESYNC_TOOLS_BENCH_BENCH_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"
#include "tools/bench/workload.h"

namespace pulse::bench {

// A channel with no message size limits. `own_connection`: a TCP connection of its own,
// as a separate peer process would have (gRPC otherwise shares one between channels).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, bool own_connection = true);

// A context with a deadline, so no benchmark call hangs forever.
std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration timeout = absl::Seconds(120));

// Handshake as `peer_id` with push, pull and subscribe capabilities.
absl::Status Handshake(pulsedb::sync::v1::SyncService::Stub& stub, const std::string& peer_id);

// Handshakes again as `peer_id` (already known to the hub) and returns the hub's head.
absl::StatusOr<uint64_t> HubHead(pulsedb::sync::v1::SyncService::Stub& stub,
                                 const std::string& peer_id);

// Pushes the workload's collectives and experiences [0, count) as `loader_id`, in batches
// of `batch`. OK only when every change was accepted.
absl::Status LoadHub(const std::string& address, const Workload& workload,
                     const std::string& loader_id, uint64_t count, int batch = 500);

absl::Status FromGrpc(const grpc::Status& status, const std::string& what);

// One unary call through a generic stub (a request or reply kept as bytes), started on
// construction and waited for with Wait, so that the caller may work meanwhile (parse
// the page before, say). Wait must be called before destruction.
template <typename Request, typename Response>
class PendingCall {
 public:
  PendingCall(grpc::TemplatedGenericStub<Request, Response>& stub, const char* method,
              Request request)
      : context_(CallContext()), request_(std::move(request)) {
    stub.UnaryCall(context_.get(), method, grpc::StubOptions(), &request_, &response_,
                   [this](grpc::Status status) {
                     status_ = std::move(status);
                     done_.Notify();
                   });
  }
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;

  // Waits for the reply, into `response`; `what` names the call in an error.
  absl::Status Wait(Response* response, const std::string& what) {
    done_.WaitForNotification();
    *response = std::move(response_);
    return FromGrpc(status_, what);
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  const Request request_;
  Response response_;
  grpc::Status status_;
  absl::Notification done_;
};

// Sends `requests` (encoded PushRequests of `batch` changes each) on one PushStream call,
// keeping up to `window` of them unanswered; OK once every one was accepted whole.
absl::Status PushStreamed(const std::shared_ptr<grpc::Channel>& channel,
                          const std::vector<grpc::ByteBuffer>& requests, int batch, int window);

// Runs body(0) .. body(threads - 1), each on a thread of its own, all released at once
// after every thread has started; returns the time from the release to the last return.
absl::Duration RunTogether(int threads, const std::function<void(int)>& body);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_BENCH_CLIENT_H_
