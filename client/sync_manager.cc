#include "client/sync_manager.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/sync_error.h"
#include "common/log.h"
#include "common/status_payloads.h"
#include "storage/ids.h"
#include "storage/keys.h"

namespace pulse::client {

namespace pb = pulsedb::sync::v1;
using storage::CursorKind;
using storage::IdToText;

namespace {

// Room left in a message for everything but the changes.
constexpr uint64_t kEnvelopeBytes = 1024;

const char* RuleName(pb::ConflictResolution rule) {
  return rule == pb::CONFLICT_RESOLUTION_LAST_WRITE_WINS ? "last-write-wins" : "server-wins";
}

}  // namespace

SyncManager::SyncManager(storage::Store* store, std::shared_ptr<SyncTransport> transport,
                         SyncConfig config)
    : store_(store),
      transport_(std::move(transport)),
      config_(std::move(config)),
      self_(store->instance_id()) {
  // A local write wakes the loop so it is pushed at once, not at the next interval.
  log_listener_ = store_->log().AddListener([this](uint64_t) {
    MutexLock lock(&mu_);
    push_pending_ = true;
    wake_.SignalAll();
  });
}

SyncManager::~SyncManager() {
  Stop();
  store_->log().RemoveListener(log_listener_);
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

absl::Status SyncManager::Start() {
  if (absl::Status s = config_.Validate(); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    if (running_) return absl::FailedPreconditionError("sync manager is already running");
  }
  // A previous loop that ended on its own (terminal error) is joined before a new one.
  if (loop_.joinable()) loop_.join();
  if (subscriber_.joinable()) subscriber_.join();
  {
    MutexLock lock(&mu_);
    stopping_ = false;
    handshaken_ = false;  // a fresh start always re-handshakes
  }
  absl::Status handshake = EnsureHandshake();
  if (!handshake.ok()) {
    RecordFailure(handshake);
    return handshake;
  }
  {
    MutexLock lock(&mu_);
    running_ = true;
    status_.running = true;
    push_pending_ = true;
  }
  loop_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void SyncManager::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    ++stop_epoch_;  // interrupts a cycle running on any thread (SyncOnce, InitialSync)
    if (live_stream_ != nullptr && *live_stream_ != nullptr) (*live_stream_)->Cancel();
    if (snapshot_stream_ != nullptr && *snapshot_stream_ != nullptr) {
      (*snapshot_stream_)->Cancel();
    }
    wake_.SignalAll();
  }
  if (loop_.joinable()) loop_.join();
  if (subscriber_.joinable()) subscriber_.join();
  MutexLock lock(&mu_);
  running_ = false;
  status_.running = false;
  status_.live = false;
  if (status_.state == SyncState::kSyncing) status_.state = SyncState::kIdle;
}

void SyncManager::BeginCycle() {
  MutexLock lock(&mu_);
  cycle_epoch_ = stop_epoch_;
}

bool SyncManager::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

SyncStatus SyncManager::status() const {
  MutexLock lock(&mu_);
  SyncStatus out = status_;
  out.hub_id = hub_id_;
  return out;
}

bool SyncManager::WaitFor(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (!stopping_ && !push_pending_ && !subscriber_failed_) {
    if (wake_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return !stopping_;
}

absl::Duration SyncManager::Backoff(int failures) const {
  const double factor = std::pow(config_.retry.multiplier, std::max(0, failures - 1));
  const absl::Duration delay = config_.retry.initial_backoff * factor;
  return std::min(delay, config_.retry.max_backoff);
}

void SyncManager::RecordSuccess() {
  MutexLock lock(&mu_);
  if (status_.consecutive_failures > 0) {
    Log(LogLevel::kInfo, "sync_recovered",
        {{"hub", IdToText(hub_id_)},
         {"after_failures", absl::StrCat(status_.consecutive_failures)}});
  }
  status_.consecutive_failures = 0;
  status_.last_success_time = absl::Now();
  status_.state = SyncState::kIdle;
}

void SyncManager::RecordFailure(const absl::Status& status) {
  MutexLock lock(&mu_);
  ++status_.consecutive_failures;
  status_.last_error = status;
  status_.last_error_time = absl::Now();
  status_.state = status_.consecutive_failures > config_.retry.max_retries && !IsTerminal(status)
                      ? SyncState::kDisconnected
                      : SyncState::kError;
  Log(LogLevel::kWarning, "sync_failed",
      {{"hub", IdToText(hub_id_)},
       {"kind",
        std::string(SyncErrorKindName(SyncErrorOf(status).value_or(SyncErrorKind::kTransport)))},
       {"failures", absl::StrCat(status_.consecutive_failures)},
       {"error", status.ToString()}});
}

// ---------------------------------------------------------------------------
// Handshake and rebind
// ---------------------------------------------------------------------------

absl::Status SyncManager::EnsureHandshake() {
  {
    MutexLock lock(&mu_);
    if (handshaken_) return absl::OkStatus();
  }
  return HandshakeNow();
}

absl::Status SyncManager::HandshakeNow() {
  pb::HandshakeRequest request;
  request.set_instance_id(self_);
  request.set_protocol_version(kProtocolVersion);
  if (PushEnabled()) request.add_capabilities("push");
  if (PullEnabled()) request.add_capabilities("pull");
  if (PullEnabled() && config_.live_mode != LiveMode::kOff) request.add_capabilities("subscribe");
  request.set_max_reply_bytes(config_.max_message_bytes);
  absl::StatusOr<pb::HandshakeResponse> response = transport_->Handshake(request);
  if (!response.ok()) return response.status();
  if (!response->accepted() || response->protocol_version() != kProtocolVersion) {
    const bool version = response->protocol_version() != kProtocolVersion ||
                         response->reason().find("version") != std::string::npos;
    return MakeSyncError(
        version ? SyncErrorKind::kProtocolVersion : SyncErrorKind::kHandshake,
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("hub refused the handshake: ",
                     response->has_reason() ? response->reason() : "no reason given",
                     " (local protocol ", kProtocolVersion, ", remote ",
                     response->protocol_version(), ")"));
  }
  if (response->conflict_resolution() != config_.conflict_resolution) {
    return MakeSyncError(
        SyncErrorKind::kHandshake, absl::StatusCode::kFailedPrecondition,
        absl::StrCat("hub resolves conflicts by ", RuleName(response->conflict_resolution()),
                     " but this peer is configured for ", RuleName(config_.conflict_resolution),
                     "; both sides must agree"));
  }
  if (absl::Status s = storage::ValidateId(response->instance_id(), "hub instance_id"); !s.ok()) {
    return WithSyncErrorKind(s, SyncErrorKind::kHandshake);
  }
  // The lag is known from the handshake already: the hub's head against our pull cursor
  // for this identity.
  absl::StatusOr<std::optional<uint64_t>> pulled =
      store_->GetCursor(response->instance_id(), CursorKind::kPull);
  if (!pulled.ok()) return pulled.status();
  const uint64_t cursor = pulled->value_or(0);
  MutexLock lock(&mu_);
  if (!hub_id_.empty() && hub_id_ != response->instance_id()) {
    Log(LogLevel::kWarning, "hub_changed",
        {{"old_hub", IdToText(hub_id_)},
         {"new_hub", IdToText(response->instance_id())},
         {"action", "resuming from the new identity's own cursors"}});
  }
  hub_id_ = response->instance_id();
  handshaken_ = true;
  hub_max_batch_ = response->limits().max_batch_size();
  hub_max_bytes_ = response->limits().max_message_bytes();
  hub_head_ = response->head_sequence();
  status_.lag = PullEnabled() && hub_head_ > cursor ? hub_head_ - cursor : 0;
  hub_subscribes_ = std::find(response->capabilities().begin(), response->capabilities().end(),
                              "subscribe") != response->capabilities().end();
  hub_push_streams_ = std::find(response->capabilities().begin(), response->capabilities().end(),
                                "push_stream") != response->capabilities().end();
  Log(LogLevel::kInfo, "handshake",
      {{"hub", IdToText(hub_id_)}, {"head", absl::StrCat(hub_head_)}});
  return absl::OkStatus();
}

absl::Status SyncManager::RunCycle(bool pull) {
  MutexLock cycle(&cycle_mu_);
  BeginCycle();
  int rebinds = 0;
  for (;;) {
    absl::Status status = EnsureHandshake();
    absl::Status rejected = absl::OkStatus();
    if (status.ok() && PushEnabled()) {
      status = PushAll();
      // The hub refused one of our changes (say, an update of an entity deleted there
      // while we were away, its delete since compacted). What we pull may settle it (a
      // snapshot that drops the entity makes the update moot): pull anyway, push again.
      if (IsPushRejection(status) && PullEnabled()) {
        rejected = status;
        status = absl::OkStatus();
      }
    }
    if (status.ok() && PullEnabled()) {
      status = pull ? PullAll(nullptr, /*initial=*/false) : AcknowledgeApplied();
    }
    if (status.ok() && !rejected.ok()) status = PushAll();
    const bool peer_changed = SyncErrorOf(status) == SyncErrorKind::kPeerChanged;
    // "Unknown peer": the hub forgot us (its data was replaced without a new identity).
    const bool unknown_peer =
        status.code() == absl::StatusCode::kFailedPrecondition && !SyncErrorOf(status).has_value();
    if (!peer_changed && !unknown_peer) return status;
    if (++rebinds > 1) {
      return MakeSyncError(
          SyncErrorKind::kPeerChanged, absl::StatusCode::kFailedPrecondition,
          absl::StrCat("the hub changed identity twice in one cycle: ", status.message()));
    }
    MutexLock lock(&mu_);
    handshaken_ = false;
  }
}

// ---------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------

std::vector<pb::SyncEntityType> SyncManager::EntityTypes() const {
  if (config_.sync_relations && config_.sync_insights) return {};
  std::vector<pb::SyncEntityType> types = {pb::SYNC_ENTITY_TYPE_EXPERIENCE,
                                           pb::SYNC_ENTITY_TYPE_COLLECTIVE};
  if (config_.sync_relations) types.push_back(pb::SYNC_ENTITY_TYPE_RELATION);
  if (config_.sync_insights) types.push_back(pb::SYNC_ENTITY_TYPE_INSIGHT);
  return types;
}

storage::ScanFilter SyncManager::Filter() const {
  storage::ScanFilter filter;
  filter.collectives = config_.collectives;
  filter.entity_types = EntityTypes();
  return filter;
}

absl::StatusOr<SyncManager::PushBatch> SyncManager::NextPushBatch(const std::string& hub,
                                                                  uint64_t after,
                                                                  const PushLimits& limits) {
  storage::ScanRequest scan;
  scan.after = after;
  scan.max_changes = limits.max_batch;
  scan.max_bytes = limits.max_bytes - kEnvelopeBytes;
  scan.filter = Filter();
  scan.filter.only_origin = self_;
  absl::StatusOr<storage::ScanResult> page = store_->log().Scan(scan);
  if (!page.ok()) return page.status();
  if (page->changes.empty() && page->oversized.has_value()) {
    return WithSyncErrorKind(ChangeTooLargeError(page->oversized->origin_sequence,
                                                 page->oversized->bytes, scan.max_bytes),
                             SyncErrorKind::kChangeTooLarge);
  }
  PushBatch batch;
  batch.scanned_through = std::max(page->scanned_through, after);
  batch.has_more = page->has_more;
  batch.request.set_source_instance(self_);
  batch.request.set_target_instance(hub);
  if (!page->changes.empty()) batch.last_sequence = page->changes.back().sequence();
  for (pb::SyncChange& change : page->changes) {
    absl::StatusOr<bool> moot = IsMoot(change);
    if (!moot.ok()) return moot.status();
    if (!*moot) *batch.request.add_changes() = std::move(change);
  }
  return batch;
}

absl::Status SyncManager::RecordPushResponse(const std::string& hub, uint64_t cursor,
                                             const PushBatch& batch,
                                             const pb::PushResponse& response) {
  if (!response.responder_instance().empty() && response.responder_instance() != hub) {
    return PeerChangedError(response.responder_instance(), hub);
  }
  uint64_t acknowledged;
  if (response.rejected() == 0) {
    // Everything examined was pushed and acknowledged, or filtered out.
    acknowledged = std::max(batch.scanned_through, batch.last_sequence);
  } else {
    acknowledged = response.has_safe_through() ? response.safe_through() : cursor;
  }
  absl::StatusOr<uint64_t> moved = store_->AdvanceCursor(hub, CursorKind::kPush, acknowledged);
  if (!moved.ok()) return moved.status();
  {
    MutexLock lock(&mu_);
    status_.pushed += response.accepted() - response.duplicates();
  }
  if (response.rejected() > 0) {
    // IsPushRejection recognizes this error.
    return MakeSyncError(SyncErrorKind::kTransport, absl::StatusCode::kAborted,
                         absl::StrCat("hub rejected change ", response.first_failure().sequence(),
                                      " (and ", response.rejected() - 1, " after it): ",
                                      response.first_failure().reason(), "; will retry"));
  }
  return absl::OkStatus();
}

absl::Status SyncManager::StoppingError() const {
  MutexLock lock(&mu_);
  if (stop_epoch_ != cycle_epoch_) {
    return MakeSyncError(SyncErrorKind::kShutdown, absl::StatusCode::kCancelled, "stopping");
  }
  return absl::OkStatus();
}

absl::Status SyncManager::PushAll() {
  for (;;) {
    if (absl::Status stopping = StoppingError(); !stopping.ok()) return stopping;
    std::string hub;
    PushLimits limits;
    bool streams;
    {
      MutexLock lock(&mu_);
      hub = hub_id_;
      push_pending_ = false;
      limits.max_bytes =
          std::min<uint64_t>(config_.max_message_bytes,
                             hub_max_bytes_ == 0 ? config_.max_message_bytes : hub_max_bytes_);
      limits.max_batch = std::min<uint64_t>(
          config_.batch_size, hub_max_batch_ == 0 ? config_.batch_size : hub_max_batch_);
      streams = hub_push_streams_;
    }
    absl::StatusOr<std::optional<uint64_t>> stored = store_->GetCursor(hub, CursorKind::kPush);
    if (!stored.ok()) return stored.status();
    uint64_t cursor = stored->value_or(0);
    const uint64_t oldest = store_->log().OldestRetained();
    if (cursor + 1 < oldest) {
      Log(LogLevel::kWarning, "push_gap",
          {{"hub", IdToText(hub)},
           {"reason", absl::StrCat("own changes up to ", oldest - 1,
                                   " were compacted locally and cannot be sent to this hub")}});
      cursor = oldest - 1;
    }
    absl::StatusOr<PushBatch> batch = NextPushBatch(hub, cursor, limits);
    if (!batch.ok()) return batch.status();
    if (batch->request.changes().empty()) {
      // Everything scanned was filtered out or moot.
      if (batch->scanned_through > cursor) {
        absl::StatusOr<uint64_t> moved =
            store_->AdvanceCursor(hub, CursorKind::kPush, batch->scanned_through);
        if (!moved.ok()) return moved.status();
      }
      if (batch->has_more) continue;
      return absl::OkStatus();
    }
    if (batch->has_more && streams) {
      // More than one batch to send: one PushStream carries them, the hub staging each
      // while it writes the one before.
      std::unique_ptr<PushStreamCall> stream = transport_->OpenPushStream();
      if (stream != nullptr) {
        if (absl::Status s = PushStreamed(*stream, hub, cursor, *std::move(batch), limits);
            !s.ok()) {
          return s;
        }
        continue;  // from the cursor the stream left
      }
    }
    absl::StatusOr<pb::PushResponse> response = transport_->Push(batch->request);
    if (!response.ok()) return response.status();
    if (absl::Status s = RecordPushResponse(hub, cursor, *batch, *response); !s.ok()) return s;
    if (!batch->has_more) return absl::OkStatus();
  }
}

absl::Status SyncManager::PushStreamed(PushStreamCall& stream, const std::string& hub,
                                       uint64_t cursor, PushBatch first, const PushLimits& limits) {
  // Batches sent and not yet answered, oldest first; each answer moves the push cursor.
  std::deque<PushBatch> unanswered;
  uint64_t position = first.scanned_through;  // where the next batch's scan starts
  bool more = first.has_more;
  int sent = 1;
  bool open = stream.Write(first.request);
  unanswered.push_back(std::move(first));
  absl::Status failure;
  while (open && failure.ok()) {
    while (unanswered.size() < kPushStreamWindow && more && sent < kBatchesPerPushStream) {
      if (failure = StoppingError(); !failure.ok()) break;
      absl::StatusOr<PushBatch> next = NextPushBatch(hub, position, limits);
      if (!next.ok()) {
        failure = next.status();
        break;
      }
      position = next->scanned_through;
      more = next->has_more;
      if (next->request.changes().empty()) {
        // Nothing to send: the batch before covers it once it is accepted whole. (There
        // is one: this loop runs after the first Write, or after a Read that left the
        // other batch of a full window in flight; a window left short by the end of the
        // log or the per-stream limit is not refilled.)
        unanswered.back().scanned_through = next->scanned_through;
        continue;
      }
      ++sent;
      open = stream.Write(next->request);
      unanswered.push_back(*std::move(next));
      if (!open) break;
    }
    if (!failure.ok() || unanswered.empty()) break;
    pb::PushResponse response;
    if (!stream.Read(&response)) break;  // ended early: Finish says why
    const PushBatch answered = std::move(unanswered.front());
    unanswered.pop_front();
    failure = RecordPushResponse(hub, cursor, answered, response);
    cursor = std::max(answered.scanned_through, answered.last_sequence);
    if (!more && unanswered.empty()) break;
  }
  // What was answered is recorded; a batch not answered is sent again next time.
  absl::Status ended = stream.Finish();
  if (!failure.ok()) return failure;
  if (!ended.ok()) return ended;
  if (!unanswered.empty()) {
    return MakeSyncError(SyncErrorKind::kConnectionLost, absl::StatusCode::kUnavailable,
                         "push stream ended before every batch was answered");
  }
  return absl::OkStatus();
}

bool SyncManager::IsPushRejection(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted &&
         SyncErrorOf(status) == SyncErrorKind::kTransport;
}

absl::StatusOr<bool> SyncManager::IsMoot(const pb::SyncChange& change) const {
  const pb::SyncPayload& p = change.payload();
  constexpr auto kExperience = pb::SYNC_ENTITY_TYPE_EXPERIENCE;
  if (p.has_experience_updated())
    return store_->IsTombstoned(kExperience, p.experience_updated().id());
  if (p.has_experience_archived()) {
    return store_->IsTombstoned(kExperience, p.experience_archived().id());
  }
  if (p.has_relation_created()) {
    absl::StatusOr<bool> source =
        store_->IsTombstoned(kExperience, p.relation_created().source_id());
    if (!source.ok() || *source) return source;
    return store_->IsTombstoned(kExperience, p.relation_created().target_id());
  }
  return false;
}

// ---------------------------------------------------------------------------
// Pull
// ---------------------------------------------------------------------------

storage::ApplyContext SyncManager::FollowerContext() const {
  storage::ApplyContext context;
  context.mode = storage::ApplyMode::kFollower;
  context.conflict_resolution = config_.conflict_resolution;
  return context;
}

absl::Status SyncManager::ApplyBatch(
    const google::protobuf::RepeatedPtrField<pb::SyncChange>& changes, uint64_t through,
    uint64_t head) {
  std::string hub;
  {
    MutexLock lock(&mu_);
    hub = hub_id_;
  }
  absl::StatusOr<storage::ApplyReport> report = store_->ApplyRemoteChanges(
      changes, FollowerContext(), storage::PullCursorUpdate{hub, through});
  if (!report.ok()) return report.status();
  if (report->future_timestamps > 0) {
    Log(LogLevel::kWarning, "future_timestamps",
        {{"hub", IdToText(hub)}, {"count", absl::StrCat(report->future_timestamps)}});
  }
  {
    MutexLock lock(&mu_);
    status_.pulled += report->applied;
    status_.future_timestamps += report->future_timestamps;
    hub_head_ = std::max(hub_head_, head);
    status_.lag = hub_head_ > through ? hub_head_ - through : 0;
  }
  if (report->failed_index.has_value()) {
    return MakeSyncError(
        SyncErrorKind::kTransport, absl::StatusCode::kAborted,
        absl::StrCat("change ", report->failed_sequence, " from ",
                     IdToText(changes[*report->failed_index].source_instance()),
                     " could not be applied: ", report->failure.message(), "; will retry"));
  }
  return absl::OkStatus();
}

pb::PullRequest SyncManager::PageRequest(const std::string& hub, uint64_t cursor,
                                         std::optional<uint64_t> applied_through) const {
  pb::PullRequest request;
  request.mutable_cursor()->set_instance_id(hub);
  request.mutable_cursor()->set_last_sequence(cursor);
  if (applied_through.has_value()) request.set_applied_through(*applied_through);
  request.set_batch_size(config_.batch_size);
  for (const std::string& c : config_.collectives) request.add_collectives(c);
  for (pb::SyncEntityType t : EntityTypes()) request.add_entity_types(t);
  request.set_source_instance(self_);
  request.set_target_instance(hub);
  request.set_max_reply_bytes(config_.max_message_bytes);
  return request;
}

absl::Status SyncManager::PullAll(const SyncProgressCallback* progress, bool initial) {
  uint64_t total = 0;
  // The page after the one being applied, asked for before applying it (the hub is told
  // how far this peer has applied, not the cursor it pages from), so that the transfer
  // of page n+1 overlaps the apply of page n. Used only if the apply took the stored
  // cursor exactly where that request starts. Waited for (not abandoned) on every return.
  struct PageAhead {
    std::string hub;
    uint64_t cursor = 0;
    std::future<absl::StatusOr<pb::PullResponse>> reply;
  } ahead;
  for (;;) {
    std::string hub;
    {
      MutexLock lock(&mu_);
      if (stop_epoch_ != cycle_epoch_) {
        return MakeSyncError(SyncErrorKind::kShutdown, absl::StatusCode::kCancelled,
                             "stopped during sync; the cursor is saved");
      }
      hub = hub_id_;
    }
    absl::StatusOr<std::optional<uint64_t>> stored = store_->GetCursor(hub, CursorKind::kPull);
    if (!stored.ok()) return stored.status();
    const uint64_t cursor = stored->value_or(0);
    const bool use_ahead = ahead.reply.valid() && ahead.hub == hub && ahead.cursor == cursor;
    if (!use_ahead && ahead.reply.valid()) ahead.reply.get();  // asked from elsewhere: dropped
    absl::StatusOr<pb::PullResponse> response =
        use_ahead ? ahead.reply.get() : transport_->Pull(PageRequest(hub, cursor, std::nullopt));
    if (!response.ok()) {
      if (SyncErrorOf(response.status()) == SyncErrorKind::kCursorNotFound) {
        if (absl::Status s = RecoverWithSnapshot(progress); !s.ok()) return s;
        continue;
      }
      return response.status();
    }
    if (!response->responder_instance().empty() && response->responder_instance() != hub) {
      return PeerChangedError(response->responder_instance(), hub);
    }
    const uint64_t through = response->new_cursor().last_sequence();
    if (response->has_more() && through > cursor) {
      ahead.hub = hub;
      ahead.cursor = through;
      ahead.reply =
          std::async(std::launch::async, [this, request = PageRequest(hub, through, cursor)] {
            return transport_->Pull(request);
          });
    }
    if (absl::Status s = ApplyBatch(response->changes(), through, response->head_sequence());
        !s.ok()) {
      return s;
    }
    total += response->changes_size();
    if (progress != nullptr && *progress) {
      SyncProgress step;
      step.batch_complete = response->changes_size();
      step.total_pulled = total;
      step.has_more = response->has_more();
      (*progress)(step);
    }
    if (!response->has_more()) return absl::OkStatus();
    if (through <= cursor) {
      return MakeSyncError(
          SyncErrorKind::kCatchUpIncomplete, absl::StatusCode::kDataLoss,
          absl::StrCat("the hub reported more changes after cursor ", cursor,
                       " but the page did not advance", initial ? " (initial sync)" : ""));
    }
  }
}

absl::Status SyncManager::AcknowledgeApplied() {
  std::string hub;
  {
    MutexLock lock(&mu_);
    hub = hub_id_;
  }
  absl::StatusOr<std::optional<uint64_t>> stored = store_->GetCursor(hub, CursorKind::kPull);
  if (!stored.ok()) return stored.status();
  const uint64_t cursor = stored->value_or(0);
  {
    MutexLock lock(&mu_);
    if (acknowledged_hub_ == hub && acknowledged_cursor_ == cursor) return absl::OkStatus();
  }
  pb::PullRequest request;
  request.mutable_cursor()->set_instance_id(hub);
  request.mutable_cursor()->set_last_sequence(cursor);
  request.set_source_instance(self_);
  request.set_target_instance(hub);
  request.set_acknowledge_only(true);
  absl::StatusOr<pb::PullResponse> response = transport_->Pull(request);
  if (!response.ok()) return response.status();
  MutexLock lock(&mu_);
  acknowledged_hub_ = hub;
  acknowledged_cursor_ = cursor;
  hub_head_ = std::max(hub_head_, response->head_sequence());
  status_.lag = hub_head_ > cursor ? hub_head_ - cursor : 0;
  return absl::OkStatus();
}

absl::Status SyncManager::RecoverWithSnapshot(const SyncProgressCallback* progress) {
  std::string hub;
  {
    MutexLock lock(&mu_);
    hub = hub_id_;
  }
  Log(LogLevel::kWarning, "snapshot_recovery",
      {{"hub", IdToText(hub)}, {"reason", "pull cursor is older than the hub's retained log"}});
  pb::SnapshotRequest request;
  for (const std::string& c : config_.collectives) request.add_collectives(c);
  request.set_source_instance(self_);
  request.set_target_instance(hub);
  request.set_max_reply_bytes(config_.max_message_bytes);
  std::unique_ptr<EventStream<pb::SnapshotChunk>> stream = transport_->Snapshot(request);
  {
    MutexLock lock(&mu_);
    snapshot_stream_ = &stream;
    if (stop_epoch_ != cycle_epoch_) stream->Cancel();
  }
  pb::SnapshotChunk chunk;
  uint64_t entities = 0;
  bool done = false;
  absl::Status applied = absl::OkStatus();
  // Every entity the snapshot holds: what is not among them was deleted on the hub.
  absl::flat_hash_set<std::string> received;
  while (stream->Next(&chunk)) {
    absl::StatusOr<storage::SnapshotApplyReport> report =
        store_->ApplySnapshotChunk(chunk, FollowerContext(), hub);
    if (!report.ok()) {
      applied = report.status();
      stream->Cancel();
      break;
    }
    for (const pb::VersionedEntity& entity : chunk.entities()) {
      received.insert(storage::Store::SnapshotEntityKey(entity));
    }
    entities += chunk.entities_size();
    done = chunk.done();
    if (progress != nullptr && *progress) {
      SyncProgress step;
      step.batch_complete = chunk.entities_size();
      step.total_pulled = entities;
      step.has_more = !chunk.done();
      step.from_snapshot = true;
      step.snapshot_total = chunk.total_entities();
      (*progress)(step);
    }
    if (done) {
      Log(LogLevel::kInfo, "snapshot_applied",
          {{"hub", IdToText(hub)},
           {"entities", absl::StrCat(entities)},
           {"sequence", absl::StrCat(chunk.sequence())}});
    }
  }
  absl::Status finished = stream->Finish();
  {
    MutexLock lock(&mu_);
    snapshot_stream_ = nullptr;
  }
  if (!applied.ok()) return applied;
  if (!finished.ok()) return finished;
  if (!done) {
    return MakeSyncError(SyncErrorKind::kCatchUpIncomplete, absl::StatusCode::kDataLoss,
                         "the snapshot stream ended before its last chunk");
  }
  // Deletes the hub compacted away while this store was behind reach it only this way.
  absl::StatusOr<int> pruned = store_->PruneAfterSnapshot(received, Filter(), hub);
  if (!pruned.ok()) return pruned.status();
  if (*pruned > 0) {
    Log(LogLevel::kInfo, "snapshot_pruned",
        {{"hub", IdToText(hub)}, {"entities", absl::StrCat(*pruned)}});
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Public one-shot operations
// ---------------------------------------------------------------------------

absl::Status SyncManager::SyncOnce() {
  if (absl::Status s = config_.Validate(); !s.ok()) return s;
  absl::Status status = RunCycle(/*pull=*/true);
  if (status.ok()) {
    RecordSuccess();
  } else {
    RecordFailure(status);
  }
  return status;
}

absl::Status SyncManager::InitialSync(const SyncProgressCallback& progress) {
  if (absl::Status s = config_.Validate(); !s.ok()) return s;
  MutexLock cycle(&cycle_mu_);
  BeginCycle();
  int rebinds = 0;
  for (;;) {
    absl::Status status = EnsureHandshake();
    if (status.ok()) status = PullAll(&progress, /*initial=*/true);
    if (SyncErrorOf(status) == SyncErrorKind::kPeerChanged && ++rebinds <= 1) {
      MutexLock lock(&mu_);
      handshaken_ = false;
      continue;
    }
    if (status.ok()) {
      RecordSuccess();
    } else {
      RecordFailure(status);
    }
    return status;
  }
}

// ---------------------------------------------------------------------------
// Background loop and live stream
// ---------------------------------------------------------------------------

void SyncManager::Loop() {
  for (;;) {
    bool live_wanted;
    {
      MutexLock lock(&mu_);
      if (stopping_) break;
      live_wanted = PullEnabled() && (config_.live_mode == LiveMode::kOn ||
                                      (config_.live_mode == LiveMode::kAuto && hub_subscribes_));
      subscriber_failed_ = false;
      status_.state = SyncState::kSyncing;
    }
    bool live_running;
    {
      MutexLock lock(&mu_);
      live_running = subscriber_running_;
    }
    // In live mode the stream delivers; the loop pulls only until the stream is up.
    const absl::Status status = RunCycle(/*pull=*/!(live_wanted && live_running));
    if (status.ok()) {
      RecordSuccess();
      if (live_wanted) {
        MutexLock lock(&mu_);
        if (!subscriber_running_ && !stopping_) {
          subscriber_running_ = true;
          if (subscriber_.joinable()) {
            // The previous subscriber has exited (it cleared subscriber_running_).
            mu_.Unlock();
            subscriber_.join();
            mu_.Lock();
          }
          subscriber_ = std::thread([this] { SubscriberLoop(); });
        }
      }
    } else if (SyncErrorOf(status) != SyncErrorKind::kShutdown) {
      RecordFailure(status);
      if (IsTerminal(status)) {
        Log(LogLevel::kError, "sync_stopped", {{"error", status.ToString()}});
        StopSubscriber();
        MutexLock lock(&mu_);
        running_ = false;
        status_.running = false;
        status_.state = SyncState::kError;
        return;
      }
    }
    int failures;
    {
      MutexLock lock(&mu_);
      failures = status_.consecutive_failures;
    }
    const absl::Duration wait =
        failures > 0 ? Backoff(failures)
                     : (live_wanted ? config_.push_interval
                                    : std::min(config_.push_interval, config_.pull_interval));
    if (!WaitFor(wait)) break;
    MutexLock lock(&mu_);
    if (subscriber_failed_ && IsTerminal(status_.last_error)) {
      // The live stream hit an error retrying cannot fix (e.g. a change too large).
      Log(LogLevel::kError, "sync_stopped", {{"error", status_.last_error.ToString()}});
      running_ = false;
      status_.running = false;
      status_.state = SyncState::kError;
      mu_.Unlock();
      StopSubscriber();
      mu_.Lock();
      return;
    }
  }
  StopSubscriber();
}

void SyncManager::StopSubscriber() {
  {
    MutexLock lock(&mu_);
    if (live_stream_ != nullptr && *live_stream_ != nullptr) (*live_stream_)->Cancel();
  }
  // Only the loop thread starts and joins the subscriber.
  if (subscriber_.joinable() && std::this_thread::get_id() == loop_.get_id()) {
    subscriber_.join();
  }
}

void SyncManager::SubscriberLoop() {
  int failures = 0;
  for (;;) {
    std::string hub;
    {
      MutexLock lock(&mu_);
      if (stopping_ || !handshaken_) break;
      hub = hub_id_;
    }
    absl::StatusOr<std::optional<uint64_t>> stored = store_->GetCursor(hub, CursorKind::kPull);
    absl::Status status = stored.status();
    if (status.ok()) {
      pb::SubscribeRequest request;
      request.mutable_cursor()->set_instance_id(hub);
      request.mutable_cursor()->set_last_sequence(stored->value_or(0));
      for (const std::string& c : config_.collectives) request.add_collectives(c);
      for (pb::SyncEntityType t : EntityTypes()) request.add_entity_types(t);
      request.set_source_instance(self_);
      request.set_target_instance(hub);
      request.set_max_reply_bytes(config_.max_message_bytes);
      std::unique_ptr<EventStream<pb::SubscribeEvent>> stream = transport_->Subscribe(request);
      {
        MutexLock lock(&mu_);
        live_stream_ = &stream;
        if (stopping_) stream->Cancel();
      }
      pb::SubscribeEvent event;
      absl::Status applied = absl::OkStatus();
      while (stream->Next(&event)) {
        {
          MutexLock lock(&mu_);
          status_.live = true;
        }
        failures = 0;
        applied =
            ApplyBatch(event.changes(), event.cursor().last_sequence(), event.head_sequence());
        if (!applied.ok()) {
          stream->Cancel();
          break;
        }
        if (!event.changes().empty()) RecordSuccess();
      }
      status = stream->Finish();
      {
        MutexLock lock(&mu_);
        live_stream_ = nullptr;
        status_.live = false;
      }
      if (!applied.ok()) status = applied;
    }
    if (stopping()) break;
    if (SyncErrorOf(status) == SyncErrorKind::kCursorNotFound) {
      MutexLock cycle(&cycle_mu_);
      BeginCycle();
      status = RecoverWithSnapshot(nullptr);
      if (status.ok()) continue;
    }
    if (SyncErrorOf(status) == SyncErrorKind::kPeerChanged ||
        (status.code() == absl::StatusCode::kFailedPrecondition && !SyncErrorOf(status))) {
      // The loop re-handshakes and starts a new subscriber for the new identity.
      MutexLock lock(&mu_);
      handshaken_ = false;
      subscriber_failed_ = true;
      wake_.SignalAll();
      break;
    }
    ++failures;
    RecordFailure(status);
    if (IsTerminal(status)) {
      MutexLock lock(&mu_);
      subscriber_failed_ = true;
      wake_.SignalAll();
      break;
    }
    // Back off, then resubscribe from the saved cursor.
    const absl::Time until = absl::Now() + Backoff(failures);
    MutexLock lock(&mu_);
    while (!stopping_ && absl::Now() < until) wake_.WaitWithDeadline(&mu_, until);
    if (stopping_) break;
  }
  MutexLock lock(&mu_);
  subscriber_running_ = false;
  wake_.SignalAll();
}

}  // namespace pulse::client
