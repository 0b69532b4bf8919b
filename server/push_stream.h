// PushStream: one PushStream call, the streaming form of Push for a peer with several
// batches to send. Each PushRequest is checked and applied exactly as a Push would be and
// answered with the PushResponse a Push would get, strictly in the order sent. The next
// request is read, parsed and staged while the one before is written (staged on top of
// it, Store::StageRemoteChanges), so the hub's commit neither waits for a request to
// cross the network nor for the write before it to end (a unary Push can overlap
// neither).
//
// Ordering contract: request n+1 is applied only if request n is accepted whole and
// written. When a request is refused (the error a Push would get), not accepted whole
// (rejected > 0) or its write fails, the hub stages nothing more from the stream, writes
// the responses of the requests before it (and a partial request's own), and ends the
// stream: with the refusal's or the write's error, or ABORTED after a partial response.
// Requests after it were not applied; the peer resumes from the last response's cursor.
// Every request must come from the same source_instance as the first (else
// INVALID_ARGUMENT). Requests and responses travel as bytes: the hub parses each request
// itself (a malformed one is INVALID_ARGUMENT, as for Pull). At most kReadAhead requests
// are held unstaged at once.
//
// Lifetime: created by Start(); keeps itself alive until gRPC calls OnDone, and work
// queued for it holds a reference. Registered with the hub as a LiveStream: shutdown
// ends it (UNAVAILABLE, once the writes in progress are done). Thread-safe.
#ifndef PULSESYNC_SERVER_PUSH_STREAM_H_
#define PULSESYNC_SERVER_PUSH_STREAM_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/hub_context.h"
#include "storage/store.h"

namespace pulse::server {

class PushStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public LiveStream,
                         public std::enable_shared_from_this<PushStream> {
 public:
  // Push's two steps (SyncServiceImpl::StagePush and FinishPush); run on the hub's pool.
  struct Steps {
    std::function<absl::StatusOr<std::shared_ptr<storage::Store::PendingApply>>(
        const pulsedb::sync::v1::PushRequest&, absl::Span<const absl::string_view> wire,
        const storage::Store::PendingApply* after)>
        stage;
    std::function<absl::Status(const std::string& peer, int changes, absl::Time start,
                               storage::Store::PendingApply&, pulsedb::sync::v1::PushResponse*)>
        finish;
  };
  // Requests held read and not yet staged (one of them may be being read).
  static constexpr int kReadAhead = 2;

  static grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Start(
      HubContext* hub, grpc::CallbackServerContext* context, Steps steps);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void OnLogAdvanced() override {}
  void OnTick(absl::Time) override {}
  void Close(const absl::Status& status) override;

 private:
  // A request as read, parsed when staged (by one of the hub's push parsers); cleared
  // then.
  struct Slot {
    grpc::ByteBuffer bytes;
    absl::Time read_at;  // when its read completed (the call's start, in metrics)
  };
  // How request n ended: its response, or the error that ends the stream.
  struct Outcome {
    absl::Status status;
    grpc::ByteBuffer response;
    uint32_t rejected = 0;
    uint64_t first_rejected = 0;
  };

  PushStream(HubContext* hub, grpc::CallbackServerContext* context, Steps steps);

  // Each starts its step when it may: a read into a free slot, the staging of the oldest
  // read request, the writes of the outcomes in order, and Finish once nothing is left.
  void MaybeRead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeStage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stages nothing more: requests read and not staged are dropped.
  void StopStaging() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The call ends with `status` (unless it already has an end): on the peer going away,
  // or at shutdown. Responses not yet written are dropped.
  void Abort(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs on the pool: parses and stages request `index` (in `slot`), on top of `after`.
  void Stage(int slot, uint64_t index, std::shared_ptr<storage::Store::PendingApply> after);
  // Runs on the pool: waits for request `index`'s write and records its outcome.
  void FinishRequest(uint64_t index, std::shared_ptr<storage::Store::PendingApply> staged,
                     std::string peer, int changes, absl::Time start);
  void Record(uint64_t index, Outcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HubContext* const hub_;
  grpc::CallbackServerContext* const context_;
  const Steps steps_;
  std::shared_ptr<PushStream> self_;  // released in OnDone

  Mutex mu_;
  std::array<Slot, kReadAhead> slots_;
  std::deque<int> free_ ABSL_GUARDED_BY(mu_);     // slots to read into
  std::deque<int> ready_ ABSL_GUARDED_BY(mu_);    // slots read, in arrival order
  int reading_ ABSL_GUARDED_BY(mu_) = -1;         // the slot a read is in flight into
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;  // the peer half-closed (or went away)
  bool staging_ ABSL_GUARDED_BY(mu_) = false;     // a Stage is queued or running
  bool no_more_ ABSL_GUARDED_BY(mu_) = false;     // stage nothing more
  int finishing_ ABSL_GUARDED_BY(mu_) = 0;        // FinishRequests queued or running
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 0;  // of the next request to stage
  uint64_t next_out_ ABSL_GUARDED_BY(mu_) = 0;    // of the next outcome to write
  // The last request staged: the next one is staged on top of it.
  std::shared_ptr<storage::Store::PendingApply> last_staged_ ABSL_GUARDED_BY(mu_);
  std::string source_ ABSL_GUARDED_BY(mu_);  // the first request's source_instance
  std::map<uint64_t, Outcome> outcomes_ ABSL_GUARDED_BY(mu_);    // ended, not yet written
  std::deque<grpc::ByteBuffer> responses_ ABSL_GUARDED_BY(mu_);  // to write, in order
  bool writing_ ABSL_GUARDED_BY(mu_) = false;             // responses_.front() is being written
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);  // how the call ends, early
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t answered_ ABSL_GUARDED_BY(mu_) = 0;  // responses written
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PUSH_STREAM_H_
