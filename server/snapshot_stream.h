// SnapshotStream: one Snapshot call. Streams the current state of the requested
// collectives (entities, then tombstones, then origin marks) from one consistent store
// snapshot, in chunks of at most kSnapshotChunkBytes (an item larger than that alone, up
// to the reply budget); the last chunk says done and carries the
// log sequence the snapshot is consistent with, so the peer resumes pulling from there.
// Reads run on the hub's pool; writes wait for the previous one (flow control).
// Lifetime as SubscribeStream. Thread-safe.
#ifndef PULSESYNC_SERVER_SNAPSHOT_STREAM_H_
#define PULSESYNC_SERVER_SNAPSHOT_STREAM_H_

#include <memory>
#include <string>

#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/hub_context.h"
#include "storage/snapshot_reader.h"

namespace pulse::server {

// The size a snapshot chunk is cut at (the reply budget permitting).
inline constexpr uint64_t kSnapshotChunkBytes = 4 << 20;

class SnapshotStream final : public grpc::ServerWriteReactor<pulsedb::sync::v1::SnapshotChunk>,
                             public LiveStream,
                             public std::enable_shared_from_this<SnapshotStream> {
 public:
  static grpc::ServerWriteReactor<pulsedb::sync::v1::SnapshotChunk>* Start(
      HubContext* hub, grpc::CallbackServerContext* context,
      const pulsedb::sync::v1::SnapshotRequest* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void OnLogAdvanced() override {}
  void OnTick(absl::Time) override {}
  void Close(const absl::Status& status) override;

 private:
  SnapshotStream(HubContext* hub, grpc::CallbackServerContext* context, std::string requester,
                 std::unique_ptr<storage::SnapshotReader> reader, uint64_t budget);
  void ScheduleNext();
  void Next();
  void FinishLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HubContext* const hub_;
  grpc::CallbackServerContext* const context_;
  const std::string requester_;
  const uint64_t budget_;
  std::shared_ptr<SnapshotStream> self_;

  Mutex mu_;
  std::unique_ptr<storage::SnapshotReader> reader_ ABSL_GUARDED_BY(mu_);
  pulsedb::sync::v1::SnapshotChunk chunk_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_written_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  uint64_t entities_sent_ = 0;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_SNAPSHOT_STREAM_H_
