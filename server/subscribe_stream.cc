#include "server/subscribe_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_payloads.h"
#include "server/request_checks.h"
#include "server/status_mapping.h"
#include "server/wire_bytes.h"
#include "storage/ids.h"
#include "storage/keys.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

// Finishes a call that never started streaming.
class RefusedStream : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  RefusedStream(grpc::CallbackServerContext* context, const absl::Status& status) {
    Finish(ToGrpcStatus(status, context));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeStream::Start(
    HubContext* hub, grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  pb::SubscribeRequest parsed;
  const pb::SubscribeRequest* request = &parsed;
  absl::Status status = ParseRequest(*bytes, &parsed, "SubscribeRequest");
  absl::StatusOr<Grant> grant = absl::UnknownError("not checked");
  if (status.ok()) {
    grant = CheckCaller(*context, *hub, request->source_instance(), request->target_instance());
    status = grant.status();
  }
  storage::ScanRequest scan;
  if (status.ok()) {
    ReadRequest read;
    read.cursor = &request->cursor();
    read.collectives = &request->collectives();
    read.entity_types = &request->entity_types();
    read.max_reply_bytes = request->max_reply_bytes();
    absl::StatusOr<storage::ScanRequest> built =
        BuildScan(read, request->source_instance(), hub->hub_id(), hub->options(), *grant);
    if (built.ok()) {
      scan = std::move(*built);
    } else {
      status = built.status();
    }
  }
  if (status.ok() && scan.after < hub->store().log().OldestRetained() - 1) {
    status = CursorCompactedError(scan.after, hub->store().log().OldestRetained());
  }
  if (status.ok() && !hub->accepting_streams()) {
    status = absl::UnavailableError("hub is shutting down");
  }
  if (status.ok()) status = hub->limiter().AcquireStream(request->source_instance());
  if (!status.ok()) {
    Log(LogLevel::kInfo, "subscribe_refused",
        {{"peer", storage::IdToText(request->source_instance())},
         {"code", absl::StatusCodeToString(status.code())},
         {"reason", std::string(status.message())}});
    hub->metrics().RecordRefusal(RpcMethod::kSubscribe, status);
    return new RefusedStream(context, status);
  }
  absl::Duration heartbeat = hub->options().heartbeat_interval;
  if (request->heartbeat_interval_ms() != 0) {
    heartbeat = absl::Milliseconds(std::max<uint32_t>(request->heartbeat_interval_ms(), 50));
  }
  std::shared_ptr<SubscribeStream> stream(
      new SubscribeStream(hub, context, request->source_instance(), std::move(scan), heartbeat));
  stream->self_ = stream;
  hub->lease().StreamOpened(stream->requester_);  // before any path to OnDone
  hub->AddStream(stream);
  // Subscribing acknowledges everything up to the cursor: it holds compaction there.
  hub->RecordServed(stream->requester_, request->cursor().last_sequence());
  Log(LogLevel::kInfo, "subscribe",
      {{"peer", storage::IdToText(stream->requester_)},
       {"cursor", absl::StrCat(request->cursor().last_sequence())}});
  {
    // The first event goes out at once, even if empty: the subscriber learns that the
    // stream is live and where the hub's log stands.
    MutexLock lock(&stream->mu_);
    stream->dirty_ = true;
    stream->heartbeat_due_ = true;
    stream->MaybeScheduleFill(/*heartbeat=*/true);
  }
  return stream.get();
}

SubscribeStream::SubscribeStream(HubContext* hub, grpc::CallbackServerContext* context,
                                 std::string requester, storage::ScanRequest scan,
                                 absl::Duration heartbeat)
    : hub_(hub),
      context_(context),
      requester_(std::move(requester)),
      heartbeat_(heartbeat),
      scan_(std::move(scan)),
      last_write_(absl::Now()) {}

void SubscribeStream::MaybeScheduleFill(bool heartbeat) {
  if (finished_ || writing_ || filling_) return;
  filling_ = true;
  std::shared_ptr<SubscribeStream> self = shared_from_this();
  hub_->pool().Schedule([self, heartbeat] { self->Fill(heartbeat); });
}

void SubscribeStream::Fill(bool heartbeat) {
  storage::ScanRequest scan;
  {
    MutexLock lock(&mu_);
    if (finished_) {
      filling_ = false;
      return;
    }
    dirty_ = false;
    scan = scan_;
  }
  // The next event's bytes: the changes as stored (field 1; a page other subscribers at
  // the same cursor share), then the envelope.
  absl::StatusOr<SharedPage> read = hub_->pages().Read(scan);
  std::shared_ptr<const std::string> wire;
  absl::StatusOr<storage::ScanResult> page = absl::UnknownError("not read");
  if (read.ok()) {
    wire = std::move(read->wire);
    page = std::move(read->result);
  } else {
    page = read.status();
  }
  if (page.ok() && page->appended == 0 && page->oversized.has_value()) {
    page =
        ChangeTooLargeError(page->oversized->log_sequence, page->oversized->bytes, scan.max_bytes);
  }
  MutexLock lock(&mu_);
  filling_ = false;
  if (finished_) return;
  if (!page.ok()) {
    Log(LogLevel::kWarning, "subscribe_error",
        {{"peer", storage::IdToText(requester_)}, {"error", page.status().ToString()}});
    hub_->metrics().RecordRefusal(RpcMethod::kSubscribe, page.status());
    FinishLocked(page.status());
    return;
  }
  scan_.after = page->scanned_through;
  more_ = page->has_more;
  if (page->appended == 0 && !(heartbeat || heartbeat_due_)) {
    // Nothing for this subscriber (everything filtered, or nothing new): wait.
    if (dirty_ || more_) MaybeScheduleFill(false);
    return;
  }
  heartbeat_due_ = false;
  pb::SubscribeEvent envelope;
  envelope.mutable_cursor()->set_instance_id(hub_->hub_id());
  envelope.mutable_cursor()->set_last_sequence(scan_.after);
  envelope.set_head_sequence(hub_->store().log().Head());
  envelope.set_responder_instance(hub_->hub_id());
  auto envelope_bytes = std::make_unique<std::string>();
  envelope.AppendToString(envelope_bytes.get());
  committed_ = hub_->commit_times().CommittedAt(page->wire_changes);
  // The previous event's write has completed (no fill runs while one is in flight).
  event_ = SharedByteBuffer(nullptr, std::move(wire), std::move(envelope_bytes));
  writing_ = true;
  last_write_ = absl::Now();
  StartWrite(&event_);
}

void SubscribeStream::OnWriteDone(bool ok) {
  MutexLock lock(&mu_);
  writing_ = false;
  if (ok) hub_->metrics().RecordDelivered(committed_, absl::Now());
  if (pending_finish_.has_value()) {
    Finish(ToGrpcStatus(*pending_finish_, context_));
    pending_finish_.reset();
    return;
  }
  if (!ok) {
    // The peer went away; OnCancel follows (or already ran).
    FinishLocked(absl::CancelledError("subscriber went away"));
    return;
  }
  if (finished_) return;
  // A delivered event is not yet applied (the peer may crash first), so delivery does not
  // move the served cursor: the peer acknowledges with Pull{acknowledge_only}.
  if (dirty_ || more_) MaybeScheduleFill(false);
}

void SubscribeStream::FinishLocked(const absl::Status& status) {
  if (finished_) return;
  finished_ = true;
  if (writing_) {
    pending_finish_ = status;  // finish once the write in flight completes
    return;
  }
  Finish(ToGrpcStatus(status, context_));
}

void SubscribeStream::OnCancel() {
  MutexLock lock(&mu_);
  FinishLocked(absl::CancelledError("subscription cancelled"));
}

void SubscribeStream::OnDone() {
  Log(LogLevel::kInfo, "subscribe_end", {{"peer", storage::IdToText(requester_)}});
  HubContext* const hub = hub_;
  hub->limiter().ReleaseStream(requester_);
  hub->RemoveStream(this);
  hub->lease().StreamClosed(requester_);
  std::shared_ptr<SubscribeStream> keep;
  {
    MutexLock lock(&mu_);
    finished_ = true;
    keep = std::move(self_);
  }
  keep.reset();       // queued work may still hold references
  hub->StreamDone();  // last: the hub may be destroyed from here on
}

void SubscribeStream::OnLogAdvanced() {
  MutexLock lock(&mu_);
  dirty_ = true;
  MaybeScheduleFill(false);
}

void SubscribeStream::OnTick(absl::Time now) {
  MutexLock lock(&mu_);
  if (now - last_write_ < heartbeat_) return;
  heartbeat_due_ = true;
  MaybeScheduleFill(true);
}

void SubscribeStream::Close(const absl::Status& status) {
  MutexLock lock(&mu_);
  FinishLocked(status);
}

}  // namespace pulse::server
