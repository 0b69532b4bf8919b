#include "tests/support/faulty_transport.h"

#include <utility>

#include "client/sync_error.h"

namespace pulse::testing {

namespace pb = pulsedb::sync::v1;

namespace {

absl::Status LostReply(const char* what) {
  return client::MakeSyncError(client::SyncErrorKind::kConnectionLost,
                               absl::StatusCode::kUnavailable,
                               std::string("injected: the ") + what + " reply was lost");
}

// Ends a stream after `limit` events, as a deadline expiring mid-stream would.
class CutStream final : public client::EventStream<pb::SubscribeEvent> {
 public:
  CutStream(std::unique_ptr<client::EventStream<pb::SubscribeEvent>> inner, int limit,
            std::atomic<int>* cuts)
      : inner_(std::move(inner)), limit_(limit), cuts_(cuts) {}
  bool Next(pb::SubscribeEvent* event) override {
    if (limit_ > 0 && delivered_ >= limit_) {
      if (!cut_) {
        cut_ = true;
        cuts_->fetch_add(1);
        inner_->Cancel();
      }
      return false;
    }
    if (!inner_->Next(event)) return false;
    ++delivered_;
    return true;
  }
  void Cancel() override { inner_->Cancel(); }
  absl::Status Finish() override {
    absl::Status status = inner_->Finish();
    if (cut_) {
      return client::MakeSyncError(client::SyncErrorKind::kTimeout,
                                   absl::StatusCode::kDeadlineExceeded,
                                   "injected: deadline exceeded mid-stream");
    }
    return status;
  }

 private:
  std::unique_ptr<client::EventStream<pb::SubscribeEvent>> inner_;
  const int limit_;
  std::atomic<int>* cuts_;
  int delivered_ = 0;
  bool cut_ = false;
};

}  // namespace

FaultyTransport::FaultyTransport(std::shared_ptr<client::SyncTransport> inner, Faults faults,
                                 uint32_t seed)
    : inner_(std::move(inner)), faults_(faults), rng_(seed) {}

bool FaultyTransport::Roll(double probability) {
  if (healed_.load() || probability <= 0) return false;
  MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_) < probability;
}

absl::StatusOr<pb::HandshakeResponse> FaultyTransport::Handshake(
    const pb::HandshakeRequest& request) {
  return inner_->Handshake(request);
}

absl::StatusOr<pb::PushResponse> FaultyTransport::Push(const pb::PushRequest& request) {
  if (Roll(faults_.replay_old_push)) {
    pb::PushRequest old;
    bool have = false;
    {
      MutexLock lock(&mu_);
      if (!sent_.empty()) {
        old = sent_[std::uniform_int_distribution<size_t>(0, sent_.size() - 1)(rng_)];
        have = true;
      }
    }
    if (have) {
      counts_.replayed_pushes.fetch_add(1);
      (void)inner_->Push(old);  // an older batch arrives late; its reply goes nowhere
    }
  }
  {
    MutexLock lock(&mu_);
    sent_.push_back(request);
    if (sent_.size() > 32) sent_.erase(sent_.begin());
  }
  absl::StatusOr<pb::PushResponse> response = inner_->Push(request);
  if (Roll(faults_.duplicate_push)) {
    counts_.duplicated_pushes.fetch_add(1);
    response = inner_->Push(request);
  }
  if (response.ok() && Roll(faults_.drop_push_reply)) {
    counts_.dropped_push_replies.fetch_add(1);
    return LostReply("push");
  }
  return response;
}

absl::StatusOr<pb::PullResponse> FaultyTransport::Pull(const pb::PullRequest& request) {
  absl::StatusOr<pb::PullResponse> response = inner_->Pull(request);
  if (response.ok() && Roll(faults_.drop_pull_reply)) {
    counts_.dropped_pull_replies.fetch_add(1);
    return LostReply("pull");
  }
  return response;
}

std::unique_ptr<client::EventStream<pb::SubscribeEvent>> FaultyTransport::Subscribe(
    const pb::SubscribeRequest& request) {
  const int limit = healed_.load() ? 0 : faults_.cut_stream_every;
  return std::make_unique<CutStream>(inner_->Subscribe(request), limit, &counts_.cut_streams);
}

std::unique_ptr<client::EventStream<pb::SnapshotChunk>> FaultyTransport::Snapshot(
    const pb::SnapshotRequest& request) {
  return inner_->Snapshot(request);
}

}  // namespace pulse::testing
