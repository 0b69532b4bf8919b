#include "tools/bench/raw_stream_server.h"

#include <signal.h>

#include <cstdio>
#include <memory>

#include "grpcpp/grpcpp.h"
#include "raw_stream.grpc.pb.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

class PageWriter final : public grpc::ServerWriteReactor<pb::PullResponse> {
 public:
  PageWriter(const pb::PullResponse* page, uint32_t pages) : page_(page), left_(pages) { Next(); }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (left_ == 0) {
      Finish(grpc::Status::OK);
      return;
    }
    --left_;
    StartWrite(page_);
  }
  const pb::PullResponse* const page_;
  uint32_t left_;
};

class RawStreamService final : public pulsebench::RawStream::CallbackService {
 public:
  explicit RawStreamService(pb::PullResponse page) : page_(std::move(page)) {}
  grpc::ServerWriteReactor<pb::PullResponse>* Stream(
      grpc::CallbackServerContext*, const pulsebench::RawStreamRequest* request) override {
    return new PageWriter(&page_, request->pages());
  }

 private:
  const pb::PullResponse page_;
};

}  // namespace

int ServeRawStream(const Workload& workload, int page_changes) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // A page as the hub fills one: changes of an origin with their log positions.
  pb::PullResponse page;
  const std::string origin = Workload::ActorId(100);
  const std::string responder = Workload::ActorId(99);
  for (int i = 0; i < page_changes; ++i) {
    pb::SyncChange* change = page.add_changes();
    *change = workload.ExperienceChange(origin, 5 + i, i);
    change->set_log_sequence(5 + i);
  }
  page.set_has_more(true);
  page.mutable_new_cursor()->set_instance_id(responder);
  page.mutable_new_cursor()->set_last_sequence(4 + page_changes);
  page.set_responder_instance(responder);
  page.set_head_sequence(1000000);
  RawStreamService service(std::move(page));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "raw_stream: cannot listen\n");
    return 1;
  }
  std::printf("raw_stream listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

}  // namespace pulse::bench
