// FaultyTransport: a SyncTransport decorator that misbehaves on purpose, for
// fault-injection tests: it loses replies after the hub acted on the request, delivers
// pushes twice, replays an older push after newer ones (reordering), and cuts Subscribe
// streams mid-way with DEADLINE_EXCEEDED. Seeded, so a failing run can be replayed.
// Thread-safe.
#ifndef PULSESYNC_TESTS_SUPPORT_FAULTY_TRANSPORT_H_
#define PULSESYNC_TESTS_SUPPORT_FAULTY_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "client/sync_transport.h"
#include "common/mutex.h"

namespace pulse::testing {

struct Faults {
  double drop_push_reply = 0;  // the hub applied the push, the reply is "lost"
  double duplicate_push = 0;   // the push is delivered twice
  double replay_old_push = 0;  // an earlier push is delivered again first (reordering)
  double drop_pull_reply = 0;  // the hub served the page, the reply is "lost"
  int cut_stream_every = 0;    // a Subscribe stream ends after this many events (0 = never)
};

struct FaultCounts {
  std::atomic<int> dropped_push_replies{0};
  std::atomic<int> duplicated_pushes{0};
  std::atomic<int> replayed_pushes{0};
  std::atomic<int> dropped_pull_replies{0};
  std::atomic<int> cut_streams{0};
};

class FaultyTransport final : public client::SyncTransport {
 public:
  FaultyTransport(std::shared_ptr<client::SyncTransport> inner, Faults faults, uint32_t seed);

  // Stops injecting faults from now on (to let everything settle).
  void Heal() { healed_.store(true); }
  const FaultCounts& counts() const { return counts_; }

  absl::StatusOr<pulsedb::sync::v1::HandshakeResponse> Handshake(
      const pulsedb::sync::v1::HandshakeRequest& request) override;
  absl::StatusOr<pulsedb::sync::v1::PushResponse> Push(
      const pulsedb::sync::v1::PushRequest& request) override;
  absl::StatusOr<pulsedb::sync::v1::PullResponse> Pull(
      const pulsedb::sync::v1::PullRequest& request) override;
  std::unique_ptr<client::EventStream<pulsedb::sync::v1::SubscribeEvent>> Subscribe(
      const pulsedb::sync::v1::SubscribeRequest& request) override;
  std::unique_ptr<client::EventStream<pulsedb::sync::v1::SnapshotChunk>> Snapshot(
      const pulsedb::sync::v1::SnapshotRequest& request) override;
  absl::Status HealthCheck() override { return inner_->HealthCheck(); }

 private:
  bool Roll(double probability);

  const std::shared_ptr<client::SyncTransport> inner_;
  const Faults faults_;
  std::atomic<bool> healed_{false};
  FaultCounts counts_;
  Mutex mu_;
  std::mt19937 rng_ ABSL_GUARDED_BY(mu_);
  std::vector<pulsedb::sync::v1::PushRequest> sent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_FAULTY_TRANSPORT_H_
