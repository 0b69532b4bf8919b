#include "server/push_stream.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "server/metrics.h"
#include "server/received_push.h"
#include "server/status_mapping.h"
#include "server/wire_bytes.h"
#include "server/work_gate.h"
#include "storage/ids.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

// Finishes a call that never started.
class RefusedPushStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RefusedPushStream(grpc::CallbackServerContext* context, const absl::Status& status) {
    Finish(ToGrpcStatus(status, context));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* PushStream::Start(
    HubContext* hub, grpc::CallbackServerContext* context, Steps steps) {
  if (!hub->accepting_streams()) {
    return new RefusedPushStream(context, absl::UnavailableError("hub is shutting down"));
  }
  std::shared_ptr<PushStream> stream(new PushStream(hub, context, std::move(steps)));
  stream->self_ = stream;
  hub->AddStream(stream);  // before any path to OnDone
  MutexLock lock(&stream->mu_);
  stream->MaybeRead();
  return stream.get();
}

PushStream::PushStream(HubContext* hub, grpc::CallbackServerContext* context, Steps steps)
    : hub_(hub), context_(context), steps_(std::move(steps)) {
  for (int i = 0; i < kReadAhead; ++i) free_.push_back(i);
}

void PushStream::MaybeRead() {
  if (reading_ >= 0 || reads_done_ || no_more_ || finished_ || free_.empty()) return;
  reading_ = free_.front();
  free_.pop_front();
  StartRead(&slots_[reading_].bytes);
}

void PushStream::OnReadDone(bool ok) {
  MutexLock lock(&mu_);
  const int slot = reading_;
  reading_ = -1;
  if (!ok || no_more_) {
    // The peer half-closed (or went away), or nothing more is staged: not kept.
    if (!ok) reads_done_ = true;
    slots_[slot].bytes.Clear();
    free_.push_back(slot);
    MaybeFinish();
    return;
  }
  slots_[slot].read_at = absl::Now();
  ready_.push_back(slot);
  MaybeStage();
  MaybeRead();
}

void PushStream::MaybeStage() {
  if (staging_ || no_more_ || ready_.empty()) return;
  staging_ = true;
  const int slot = ready_.front();
  ready_.pop_front();
  const uint64_t index = next_index_++;
  hub_->BeginCall();  // shutdown waits for it, as for a unary call's work
  hub_->pool().Schedule([self = shared_from_this(), slot, index, after = last_staged_] {
    self->Stage(slot, index, after);
  });
}

void PushStream::Stage(int slot, uint64_t index,
                       std::shared_ptr<storage::Store::PendingApply> after) {
  // The slot is this Stage's alone until it is handed back below.
  Slot& s = slots_[slot];
  // The CPU-heavy part, bounded hub-wide (work_gate.h). It may wait here for the
  // writer to take a group (at most three unwritten), never for its own batch's write:
  // a stream's parts all go to the writer thread.
  std::optional<WorkGate::Pass> pass(std::in_place, hub_->push_gate());
  ReceivedPush& parsed = hub_->push_parser(*pass);  // this pass's alone
  absl::Status status = parsed.Parse(s.bytes);
  const pb::PushRequest* request = status.ok() ? &parsed.request() : nullptr;
  if (status.ok()) {
    MutexLock lock(&mu_);
    if (source_.empty()) {
      source_ = request->source_instance();
    } else if (request->source_instance() != source_) {
      status = absl::InvalidArgumentError(
          absl::StrCat("a push stream carries the changes of one source_instance: it began with ",
                       storage::IdToText(source_), ", then came ",
                       storage::IdToText(request->source_instance())));
    }
  }
  absl::StatusOr<std::shared_ptr<storage::Store::PendingApply>> staged =
      status.ok() ? steps_.stage(*request, parsed.change_bytes(), after.get()) : status;
  after.reset();
  std::string peer = request != nullptr ? request->source_instance() : std::string();
  const int changes = request != nullptr ? request->changes_size() : 0;
  const absl::Time start = s.read_at;
  parsed.Clear();  // `request` is gone from here on
  s.bytes.Clear();
  pass.reset();

  {
    MutexLock lock(&mu_);
    staging_ = false;
    free_.push_back(slot);
    if (!staged.ok()) {
      hub_->metrics().RecordCall(RpcMethod::kPush, staged.status(), absl::Now() - start);
      StopStaging();
      Outcome refused;
      refused.status = staged.status();
      Record(index, std::move(refused));
    } else {
      last_staged_ = *staged;
      // A batch not accepted whole is the last one staged: what follows it must wait for
      // the peer to resend the rest.
      if ((*staged)->report().rejected > 0) StopStaging();
      ++finishing_;
      hub_->BeginCall();
      hub_->pool().Schedule([self = shared_from_this(), index, pending = *staged,
                             peer = std::move(peer), changes, start]() mutable {
        self->FinishRequest(index, std::move(pending), std::move(peer), changes, start);
      });
    }
    MaybeStage();
    MaybeRead();
    MaybeFinish();
  }
  hub_->EndCall();
}

void PushStream::FinishRequest(uint64_t index, std::shared_ptr<storage::Store::PendingApply> staged,
                               std::string peer, int changes, absl::Time start) {
  pb::PushResponse response;
  Outcome outcome;
  outcome.status = steps_.finish(peer, changes, start, *staged, &response);
  staged.reset();
  hub_->metrics().RecordCall(RpcMethod::kPush, outcome.status, absl::Now() - start);
  if (outcome.status.ok()) {
    outcome.response = SerializedReply(response);
    outcome.rejected = response.rejected();
    outcome.first_rejected = response.first_failure().sequence();
  }
  {
    MutexLock lock(&mu_);
    --finishing_;
    if (!outcome.status.ok()) StopStaging();  // those staged on it fail the same way
    Record(index, std::move(outcome));
    MaybeStage();
    MaybeFinish();
  }
  hub_->EndCall();
}

void PushStream::Record(uint64_t index, Outcome outcome) {
  if (end_.has_value()) return;  // the stream's end is decided; later outcomes go nowhere
  outcomes_.emplace(index, std::move(outcome));
  // In order: each response, up to the first request that ends the stream.
  while (!end_.has_value() && !outcomes_.empty() && outcomes_.begin()->first == next_out_) {
    Outcome next = std::move(outcomes_.begin()->second);
    outcomes_.erase(outcomes_.begin());
    ++next_out_;
    if (!next.status.ok()) {
      end_ = next.status;
      break;
    }
    responses_.push_back(std::move(next.response));
    if (next.rejected > 0) {
      end_ = absl::AbortedError(
          absl::StrCat("request ", next_out_, " of this stream was not accepted whole (",
                       next.rejected, " rejected from sequence ", next.first_rejected,
                       "): nothing after it was applied; resume from its cursor"));
    }
  }
  if (end_.has_value()) {
    StopStaging();
    outcomes_.clear();
  }
  MaybeWrite();
}

void PushStream::StopStaging() {
  no_more_ = true;
  for (int slot : ready_) {
    slots_[slot].bytes.Clear();
    free_.push_back(slot);
  }
  ready_.clear();
}

void PushStream::Abort(const absl::Status& status) {
  if (!end_.has_value()) end_ = status;
  StopStaging();
  outcomes_.clear();
  responses_.resize(writing_ ? 1 : 0);  // the one being written, if any, completes
  MaybeFinish();
}

void PushStream::MaybeWrite() {
  if (writing_ || responses_.empty() || finished_) return;
  writing_ = true;
  StartWrite(&responses_.front());  // a deque's front stays put while others are added
}

void PushStream::OnWriteDone(bool ok) {
  MutexLock lock(&mu_);
  writing_ = false;
  responses_.pop_front();
  if (ok) {
    ++answered_;
  } else {
    Abort(absl::CancelledError("push stream peer went away"));  // OnCancel follows
  }
  MaybeWrite();
  MaybeFinish();
}

void PushStream::MaybeFinish() {
  if (finished_ || staging_ || finishing_ > 0 || writing_ || !responses_.empty()) return;
  if (end_.has_value()) {
    // A read still in flight completes (not ok) once the call is finished.
    finished_ = true;
    Finish(ToGrpcStatus(*end_, context_));
    return;
  }
  if (reads_done_ && reading_ < 0 && ready_.empty() && outcomes_.empty()) {
    finished_ = true;
    Finish(grpc::Status::OK);
  }
}

void PushStream::OnCancel() {
  MutexLock lock(&mu_);
  Abort(absl::CancelledError("push stream cancelled"));
}

void PushStream::Close(const absl::Status& status) {
  MutexLock lock(&mu_);
  Abort(status);
}

void PushStream::OnDone() {
  HubContext* const hub = hub_;
  hub->RemoveStream(this);
  std::shared_ptr<PushStream> keep;
  {
    MutexLock lock(&mu_);
    finished_ = true;
    keep = std::move(self_);
    if (!source_.empty()) {
      Log(LogLevel::kInfo, "push_stream_end",
          {{"peer", storage::IdToText(source_)}, {"answered", absl::StrCat(answered_)}});
    }
  }
  keep.reset();       // queued work may still hold references
  hub->StreamDone();  // last: the hub may be destroyed from here on
}

}  // namespace pulse::server
