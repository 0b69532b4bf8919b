// SubscribeStream: one Subscribe call. Streams the hub's log from the requested cursor:
// catch-up pages first, then changes as they commit, with the same filters as Pull,
// never the subscriber's own changes, and an empty event (a heartbeat carrying the
// cursor) when idle. gRPC's callback API drives it: no thread is parked per stream, and
// a new event is written only after the previous one completed (flow control). Events
// go out as bytes: the log entries as stored, framed as a SubscribeEvent (ScanWire).
//
// Lifetime: created by Start(); keeps itself alive until gRPC calls OnDone, and work
// queued for it holds a reference. Thread-safe.
#ifndef PULSESYNC_SERVER_SUBSCRIBE_STREAM_H_
#define PULSESYNC_SERVER_SUBSCRIBE_STREAM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/hub_context.h"
#include "storage/change_log.h"

namespace pulse::server {

class SubscribeStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                              public LiveStream,
                              public std::enable_shared_from_this<SubscribeStream> {
 public:
  // Parses and checks the request (a SubscribeRequest's bytes) and starts streaming, or
  // finishes the call with the error.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(HubContext* hub,
                                                           grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void OnLogAdvanced() override;
  void OnTick(absl::Time now) override;
  void Close(const absl::Status& status) override;

 private:
  SubscribeStream(HubContext* hub, grpc::CallbackServerContext* context, std::string requester,
                  storage::ScanRequest scan, absl::Duration heartbeat);

  // Schedules a Fill on the pool unless one is pending or a write is in flight.
  void MaybeScheduleFill(bool heartbeat) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs on the pool: scans from the cursor and writes an event when there is something
  // to say (changes, a moved cursor on a heartbeat).
  void Fill(bool heartbeat);
  void FinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HubContext* const hub_;
  grpc::CallbackServerContext* const context_;
  const std::string requester_;
  const absl::Duration heartbeat_;
  std::shared_ptr<SubscribeStream> self_;  // released in OnDone

  Mutex mu_;
  storage::ScanRequest scan_ ABSL_GUARDED_BY(mu_);  // scan_.after is the cursor
  // The event being written; replaced by the next fill once the write completed.
  grpc::ByteBuffer event_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool filling_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // the log moved since the last fill
  bool more_ ABSL_GUARDED_BY(mu_) = false;   // the last page was cut short
  bool heartbeat_due_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called (or pending a write)
  std::optional<absl::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> committed_ ABSL_GUARDED_BY(mu_);  // of the event being written
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_SUBSCRIBE_STREAM_H_
