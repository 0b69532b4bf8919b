#include "tools/bench/bench_client.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/mutex.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, bool own_connection) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

namespace {

absl::StatusOr<pb::HandshakeResponse> HandshakeResponseOf(pb::SyncService::Stub& stub,
                                                          const std::string& peer_id) {
  pb::HandshakeRequest request;
  request.set_instance_id(peer_id);
  request.set_protocol_version(1);
  for (const char* c : {"push", "pull", "subscribe"}) request.add_capabilities(c);
  pb::HandshakeResponse response;
  if (absl::Status s =
          FromGrpc(stub.Handshake(CallContext().get(), request, &response), "handshake");
      !s.ok()) {
    return s;
  }
  if (!response.accepted()) return absl::FailedPreconditionError("handshake refused");
  return response;
}

}  // namespace

absl::Status Handshake(pb::SyncService::Stub& stub, const std::string& peer_id) {
  return HandshakeResponseOf(stub, peer_id).status();
}

absl::StatusOr<uint64_t> HubHead(pb::SyncService::Stub& stub, const std::string& peer_id) {
  absl::StatusOr<pb::HandshakeResponse> response = HandshakeResponseOf(stub, peer_id);
  if (!response.ok()) return response.status();
  return response->head_sequence();
}

absl::Status LoadHub(const std::string& address, const Workload& workload,
                     const std::string& loader_id, uint64_t count, int batch) {
  std::unique_ptr<pb::SyncService::Stub> stub = pb::SyncService::NewStub(NewChannel(address));
  if (absl::Status s = Handshake(*stub, loader_id); !s.ok()) return s;
  auto push = [&](const pb::PushRequest& request) -> absl::Status {
    pb::PushResponse response;
    if (absl::Status s = FromGrpc(stub->Push(CallContext().get(), request, &response), "push");
        !s.ok()) {
      return s;
    }
    if (response.rejected() != 0 ||
        response.accepted() != static_cast<uint32_t>(request.changes_size())) {
      return absl::InternalError(
          absl::StrCat("load push not fully accepted: ", response.first_failure().reason()));
    }
    return absl::OkStatus();
  };
  pb::PushRequest collectives;
  collectives.set_source_instance(loader_id);
  for (pb::SyncChange& c : workload.CollectiveChanges(loader_id)) {
    *collectives.add_changes() = std::move(c);
  }
  if (absl::Status s = push(collectives); !s.ok()) return s;
  uint64_t sequence = collectives.changes_size() + 1;
  for (uint64_t done = 0; done < count;) {
    const int n = static_cast<int>(std::min<uint64_t>(batch, count - done));
    if (absl::Status s = push(workload.PushBatch(loader_id, sequence, done, n)); !s.ok()) {
      return s;
    }
    sequence += n;
    done += n;
  }
  return absl::OkStatus();
}

namespace {

// The client side of PushStreamed: writes while fewer than `window` requests are
// unanswered, reads every response, half-closes after the last request.
class StreamedPushes final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamedPushes(const std::vector<grpc::ByteBuffer>& requests, int batch, int window)
      : requests_(requests), batch_(batch), window_(window), context_(CallContext()) {}

  absl::Status Run(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(channel);
    stub.PrepareBidiStreamingCall(context_.get(), "/pulsedb.sync.v1.SyncService/PushStream",
                                  grpc::StubOptions(), this);
    {
      absl::MutexLock lock(&mu_);
      if (!requests_.empty()) StartRead(&response_);
      MaybeWrite();
    }
    StartCall();
    done_.WaitForNotification();
    if (!failure_.ok()) return failure_;
    if (!status_.ok()) return FromGrpc(status_, "push stream");
    if (answered_ != requests_.size()) {
      return absl::InternalError(absl::StrCat("push stream ended after ", answered_, " of ",
                                              requests_.size(), " responses"));
    }
    return absl::OkStatus();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) MaybeWrite();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone has its status
    absl::MutexLock lock(&mu_);
    pulsedb::sync::v1::PushResponse response;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response_.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    if (!response.ParseFromString(bytes) || response.rejected() != 0 ||
        response.accepted() != static_cast<uint32_t>(batch_)) {
      if (failure_.ok()) {
        failure_ = absl::InternalError(
            absl::StrCat("push not fully accepted: ", response.first_failure().reason()));
      }
    }
    ++answered_;
    MaybeWrite();
    if (answered_ < requests_.size()) StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }

 private:
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_) return;
    if (sent_ < requests_.size() && sent_ - answered_ < static_cast<std::size_t>(window_)) {
      writing_ = true;
      StartWrite(&requests_[sent_++]);
    } else if (sent_ == requests_.size() && !half_closed_) {
      half_closed_ = true;
      StartWritesDone();
    }
  }

  const std::vector<grpc::ByteBuffer>& requests_;
  const int batch_;
  const int window_;
  std::unique_ptr<grpc::ClientContext> context_;
  absl::Mutex mu_;
  grpc::ByteBuffer response_;
  std::size_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t answered_ = 0;  // written under mu_; read by Run after OnDone
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_;  // as answered_
  grpc::Status status_;
  absl::Notification done_;
};

}  // namespace

absl::Status PushStreamed(const std::shared_ptr<grpc::Channel>& channel,
                          const std::vector<grpc::ByteBuffer>& requests, int batch, int window) {
  return StreamedPushes(requests, batch, window).Run(channel);
}

absl::Duration RunTogether(int threads, const std::function<void(int)>& body) {
  Mutex mu;
  CondVar go_cv;
  bool go = false;
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&, i] {
      {
        MutexLock lock(&mu);
        while (!go) go_cv.Wait(&mu);
      }
      body(i);
    });
  }
  const absl::Time start = absl::Now();
  {
    MutexLock lock(&mu);
    go = true;
  }
  go_cv.SignalAll();
  for (std::thread& t : running) t.join();
  return absl::Now() - start;
}

}  // namespace pulse::bench
