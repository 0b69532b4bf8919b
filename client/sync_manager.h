// SyncManager: the peer's sync engine, embedded next to the application's Store (the
// original's "sidecar": it holds the store, it does not wrap it). It pushes this
// instance's own changes to the hub and applies everyone else's, either by polling Pull
// or by a live Subscribe stream, with exponential backoff on failures.
//
// Guarantees:
// - push and pull cursors are separate, kept per hub identity, and persisted atomically
//   with what they cover (the pull cursor in the same batch as the applied changes);
// - nothing is applied twice (exactly-once by origin sequence) and nothing applied from
//   the hub is ever pushed back;
// - the push cursor never passes a change the hub did not acknowledge (safe_through);
// - when the hub's identity changes (replaced data directory, another hub on the same
//   address) the manager re-handshakes once per cycle and resumes from the new identity's
//   own cursors, keeping the old identity's;
// - a pull cursor older than the hub's retained log is recovered through Snapshot;
// - terminal errors (protocol or settings mismatch, a change too large to ever send) stop
//   the background loop and stay visible in status() after Stop().
//
// Thread-safe. The store and transport must outlive the manager.
#ifndef PULSESYNC_CLIENT_SYNC_MANAGER_H_
#define PULSESYNC_CLIENT_SYNC_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/sync_config.h"
#include "client/sync_transport.h"
#include "common/mutex.h"
#include "storage/store.h"

namespace pulse::client {

// The protocol version this peer speaks.
inline constexpr uint32_t kProtocolVersion = 1;

// One step of InitialSync (the original's on_progress(batch, total, has_more)), also
// reported while catching up through a snapshot.
struct SyncProgress {
  uint64_t batch_complete = 0;  // changes (or snapshot entities) in the step just applied
  uint64_t total_pulled = 0;    // so far in this catch-up
  bool has_more = false;
  bool from_snapshot = false;
  uint64_t snapshot_total = 0;  // estimated entities in the snapshot
};
using SyncProgressCallback = std::function<void(const SyncProgress&)>;

enum class SyncState { kIdle, kSyncing, kError, kDisconnected };

struct SyncStatus {
  SyncState state = SyncState::kIdle;
  bool running = false;  // the background loop is alive
  // The most recent failure and when it happened; kept after a recovery (OK when none yet).
  absl::Status last_error;
  absl::Time last_error_time = absl::InfinitePast();
  // When the last cycle (or live delivery of changes) succeeded.
  absl::Time last_success_time = absl::InfinitePast();
  int consecutive_failures = 0;  // since the last success
  uint64_t pushed = 0;           // own changes the hub acknowledged (replays excluded)
  uint64_t pulled = 0;           // remote changes applied here (snapshot entities excluded)
  // Hub head minus our pull cursor, as of the last handshake, Pull reply or Subscribe
  // event (0 when this peer does not pull).
  uint64_t lag = 0;
  // Pulled changes stamped more than 5 minutes ahead of this clock (counted, not clamped).
  uint64_t future_timestamps = 0;
  std::string hub_id;  // empty before the first handshake
  bool live = false;   // a Subscribe stream is open
};

class SyncManager {
 public:
  SyncManager(storage::Store* store, std::shared_ptr<SyncTransport> transport, SyncConfig config);
  ~SyncManager();  // Stop()
  SyncManager(const SyncManager&) = delete;
  SyncManager& operator=(const SyncManager&) = delete;

  // Validates the config, handshakes, then runs the loop on a background thread.
  // FAILED_PRECONDITION while running; the handshake's error if it fails.
  absl::Status Start();
  // Ends the loop and any stream, and joins. Idempotent; returns within about one call
  // deadline even mid-sync.
  void Stop();

  // One push + pull cycle on the calling thread (handshaking first if needed).
  absl::Status SyncOnce();

  // Pulls until the hub's log is exhausted, saving the cursor after each batch and
  // reporting progress. OK only when the last page was reached and no change failed;
  // CatchUpIncomplete when a page claims more but does not advance; Shutdown when
  // Stop() interrupts it (the cursor is saved: a later call resumes).
  absl::Status InitialSync(const SyncProgressCallback& progress = nullptr);

  SyncStatus status() const;

 private:
  absl::Status EnsureHandshake() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status HandshakeNow();
  // A push + (optionally) pull cycle with at most one rebind.
  absl::Status RunCycle(bool pull);
  absl::Status PushAll();
  // A batch of own changes to push, from the log after some position: the request
  // (empty when everything scanned was filtered out or moot) and where the scan ended.
  struct PushBatch {
    pulsedb::sync::v1::PushRequest request;
    uint64_t scanned_through = 0;
    uint64_t last_sequence = 0;  // of the last change scanned into it, 0 when none
    bool has_more = false;
  };
  struct PushLimits {
    uint64_t max_batch = 0;
    uint64_t max_bytes = 0;
  };
  absl::StatusOr<PushBatch> NextPushBatch(const std::string& hub, uint64_t after,
                                          const PushLimits& limits);
  // Moves the push cursor by the hub's answer to `batch` (sent when the cursor was at
  // `cursor`); the rejection error (IsPushRejection) when it was not accepted whole.
  absl::Status RecordPushResponse(const std::string& hub, uint64_t cursor, const PushBatch& batch,
                                  const pulsedb::sync::v1::PushResponse& response);
  // Sends `first` and the batches after it on one PushStream, keeping kPushStreamWindow
  // unanswered, at most kBatchesPerPushStream in all (the stream has one call's deadline).
  absl::Status PushStreamed(PushStreamCall& stream, const std::string& hub, uint64_t cursor,
                            PushBatch first, const PushLimits& limits);
  static constexpr std::size_t kPushStreamWindow = 2;
  static constexpr int kBatchesPerPushStream = 64;
  // The shutdown error once Stop was called in this cycle, else OK.
  absl::Status StoppingError() const;
  // An own change about an experience deleted here since it was made: everyone deletes
  // it, so it is not sent. (The hub may already have dropped the tombstone, and would
  // then refuse the change forever as aimed at an unknown experience.)
  absl::StatusOr<bool> IsMoot(const pulsedb::sync::v1::SyncChange& change) const;
  // Whether PushAll failed because the hub answered and refused one of our changes (not
  // because it could not be reached).
  static bool IsPushRejection(const absl::Status& status);
  absl::Status PullAll(const SyncProgressCallback* progress, bool initial);
  // A Pull of the page after `cursor`; `applied_through`, when given, is how far this
  // store has applied (it asks for a page ahead of its applies).
  pulsedb::sync::v1::PullRequest PageRequest(const std::string& hub, uint64_t cursor,
                                             std::optional<uint64_t> applied_through) const;
  absl::Status RecoverWithSnapshot(const SyncProgressCallback* progress);
  // In live mode: tells the hub how far this store has applied (Pull{acknowledge_only}),
  // which is what lets it compact; a delivered stream event is not yet applied.
  absl::Status AcknowledgeApplied();
  absl::Status ApplyBatch(
      const google::protobuf::RepeatedPtrField<pulsedb::sync::v1::SyncChange>& changes,
      uint64_t through, uint64_t head);
  void Loop();
  void SubscriberLoop();
  void StopSubscriber();
  void RecordSuccess();
  void RecordFailure(const absl::Status& status);
  absl::Duration Backoff(int failures) const;
  bool WaitFor(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);  // false when stopping
  bool stopping() const;
  storage::ScanFilter Filter() const;
  std::vector<pulsedb::sync::v1::SyncEntityType> EntityTypes() const;
  bool PushEnabled() const { return config_.direction != SyncDirection::kPullOnly; }
  bool PullEnabled() const { return config_.direction != SyncDirection::kPushOnly; }
  storage::ApplyContext FollowerContext() const;

  storage::Store* const store_;
  const std::shared_ptr<SyncTransport> transport_;
  const SyncConfig config_;
  const std::string self_;

  // Serializes cycles (loop, SyncOnce, InitialSync, snapshot recovery).
  Mutex cycle_mu_;
  // Remembers Stop()'s epoch at a cycle's start; a later Stop() interrupts the cycle, and
  // cycles started after Stop() (SyncOnce on a stopped manager) run normally.
  void BeginCycle();

  mutable Mutex mu_;
  CondVar wake_;
  // The hub we are bound to.
  std::string hub_id_ ABSL_GUARDED_BY(mu_);
  bool handshaken_ ABSL_GUARDED_BY(mu_) = false;
  bool hub_subscribes_ ABSL_GUARDED_BY(mu_) = false;
  bool hub_push_streams_ ABSL_GUARDED_BY(mu_) = false;  // it offers PushStream
  uint32_t hub_max_batch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hub_max_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hub_head_ ABSL_GUARDED_BY(mu_) = 0;
  // Loop state.
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t stop_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t cycle_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool push_pending_ ABSL_GUARDED_BY(mu_) = false;
  SyncStatus status_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<EventStream<pulsedb::sync::v1::SubscribeEvent>>* live_stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<EventStream<pulsedb::sync::v1::SnapshotChunk>>* snapshot_stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  bool subscriber_running_ ABSL_GUARDED_BY(mu_) = false;
  std::string acknowledged_hub_ ABSL_GUARDED_BY(mu_);
  uint64_t acknowledged_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  bool subscriber_failed_ ABSL_GUARDED_BY(mu_) = false;

  uint64_t log_listener_ = 0;
  std::thread loop_;
  std::thread subscriber_;
};

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_SYNC_MANAGER_H_
