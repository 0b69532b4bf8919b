#include "client/in_memory_sync_transport.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/sync_error.h"
#include "storage/ids.h"

namespace pulse::client {

namespace pb = pulsedb::sync::v1;

namespace {

bool Wanted(const pb::SyncChange& change, const std::string& requester,
            const google::protobuf::RepeatedPtrField<std::string>& collectives,
            const google::protobuf::RepeatedField<int>& types) {
  if (change.source_instance() == requester) return false;
  if (!collectives.empty() && std::find(collectives.begin(), collectives.end(),
                                        change.collective_id()) == collectives.end()) {
    return false;
  }
  if (!types.empty() &&
      std::find(types.begin(), types.end(), change.entity_type()) == types.end()) {
    return false;
  }
  return true;
}

}  // namespace

InMemoryHub::InMemoryHub() : id_(storage::NewUuidV7()) {}

uint64_t InMemoryHub::head() const {
  MutexLock lock(&mu_);
  return log_.size();
}

class InMemorySubscription final : public EventStream<pb::SubscribeEvent> {
 public:
  InMemorySubscription(std::shared_ptr<InMemoryHub> hub, pb::SubscribeRequest request)
      : hub_(std::move(hub)),
        request_(std::move(request)),
        cursor_(request_.cursor().last_sequence()) {}

  bool Next(pb::SubscribeEvent* event) override {
    MutexLock lock(&hub_->mu_);
    const absl::Time heartbeat = absl::Now() + absl::Milliseconds(200);
    while (!cancelled_ && cursor_ >= hub_->log_.size() && sent_first_) {
      if (hub_->grew_.WaitWithDeadline(&hub_->mu_, heartbeat)) break;
    }
    if (cancelled_) return false;
    sent_first_ = true;
    event->Clear();
    while (cursor_ < hub_->log_.size() && event->changes_size() < 100) {
      const pb::SyncChange& change = hub_->log_[cursor_];
      ++cursor_;
      if (Wanted(change, request_.source_instance(), request_.collectives(),
                 request_.entity_types())) {
        *event->add_changes() = change;
      }
    }
    event->mutable_cursor()->set_instance_id(hub_->id_);
    event->mutable_cursor()->set_last_sequence(cursor_);
    event->set_head_sequence(hub_->log_.size());
    event->set_responder_instance(hub_->id_);
    return true;
  }

  void Cancel() override {
    MutexLock lock(&hub_->mu_);
    cancelled_ = true;
    hub_->grew_.SignalAll();
  }

  absl::Status Finish() override {
    return MakeSyncError(SyncErrorKind::kShutdown, absl::StatusCode::kCancelled, "cancelled");
  }

 private:
  std::shared_ptr<InMemoryHub> hub_;
  const pb::SubscribeRequest request_;
  uint64_t cursor_;
  bool cancelled_ = false;
  bool sent_first_ = false;
};

namespace {

class UnimplementedSnapshot final : public EventStream<pb::SnapshotChunk> {
 public:
  bool Next(pb::SnapshotChunk*) override { return false; }
  void Cancel() override {}
  absl::Status Finish() override {
    return MakeSyncError(SyncErrorKind::kTransport, absl::StatusCode::kUnimplemented,
                         "the in-memory hub keeps no state to snapshot");
  }
};

}  // namespace

absl::StatusOr<pb::HandshakeResponse> InMemorySyncTransport::Handshake(
    const pb::HandshakeRequest& request) {
  pb::HandshakeResponse response;
  response.set_instance_id(hub_->id_);
  response.set_protocol_version(1);
  response.set_accepted(request.protocol_version() == 1);
  if (!response.accepted()) {
    response.set_reason(absl::StrCat("protocol version mismatch: hub speaks 1, peer speaks ",
                                     request.protocol_version()));
  }
  response.mutable_limits()->set_max_batch_size(1000);
  response.mutable_limits()->set_max_message_bytes(64ull << 20);
  response.add_capabilities("push");
  response.add_capabilities("pull");
  response.add_capabilities("subscribe");
  response.set_head_sequence(hub_->head());
  response.set_oldest_sequence(1);
  return response;
}

absl::StatusOr<pb::PushResponse> InMemorySyncTransport::Push(const pb::PushRequest& request) {
  pb::PushResponse response;
  MutexLock lock(&hub_->mu_);
  uint64_t& mark = hub_->marks_[request.source_instance()];
  for (const pb::SyncChange& change : request.changes()) {
    if (change.sequence() <= mark) {
      response.set_duplicates(response.duplicates() + 1);
    } else {
      hub_->log_.push_back(change);
      hub_->log_.back().set_log_sequence(hub_->log_.size());
      mark = change.sequence();
    }
    response.set_accepted(response.accepted() + 1);
    response.set_safe_through(change.sequence());
  }
  response.mutable_new_cursor()->set_instance_id(request.source_instance());
  response.mutable_new_cursor()->set_last_sequence(mark);
  response.set_responder_instance(hub_->id_);
  hub_->grew_.SignalAll();
  return response;
}

absl::StatusOr<pb::PullResponse> InMemorySyncTransport::Pull(const pb::PullRequest& request) {
  pb::PullResponse response;
  MutexLock lock(&hub_->mu_);
  uint64_t cursor = request.cursor().last_sequence();
  if (request.acknowledge_only()) {
    response.mutable_new_cursor()->set_instance_id(hub_->id_);
    response.mutable_new_cursor()->set_last_sequence(cursor);
    response.set_head_sequence(hub_->log_.size());
    response.set_has_more(cursor < hub_->log_.size());
    return response;
  }
  const uint32_t batch = request.batch_size() == 0 ? 500 : request.batch_size();
  while (cursor < hub_->log_.size()) {
    const pb::SyncChange& change = hub_->log_[cursor];
    if (Wanted(change, request.source_instance(), request.collectives(), request.entity_types())) {
      if (static_cast<uint32_t>(response.changes_size()) == batch) break;
      *response.add_changes() = change;
    }
    ++cursor;
  }
  response.set_has_more(cursor < hub_->log_.size());
  response.mutable_new_cursor()->set_instance_id(hub_->id_);
  response.mutable_new_cursor()->set_last_sequence(cursor);
  response.set_responder_instance(hub_->id_);
  response.set_head_sequence(hub_->log_.size());
  return response;
}

std::unique_ptr<EventStream<pb::SubscribeEvent>> InMemorySyncTransport::Subscribe(
    const pb::SubscribeRequest& request) {
  return std::make_unique<InMemorySubscription>(hub_, request);
}

std::unique_ptr<EventStream<pb::SnapshotChunk>> InMemorySyncTransport::Snapshot(
    const pb::SnapshotRequest&) {
  return std::make_unique<UnimplementedSnapshot>();
}

}  // namespace pulse::client
