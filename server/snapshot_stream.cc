#include "server/snapshot_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/request_checks.h"
#include "server/status_mapping.h"
#include "storage/ids.h"
#include "storage/keys.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;

namespace {

class RefusedSnapshot : public grpc::ServerWriteReactor<pb::SnapshotChunk> {
 public:
  RefusedSnapshot(grpc::CallbackServerContext* context, const absl::Status& status) {
    Finish(ToGrpcStatus(status, context));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<pb::SnapshotChunk>* SnapshotStream::Start(
    HubContext* hub, grpc::CallbackServerContext* context, const pb::SnapshotRequest* request) {
  absl::StatusOr<Grant> grant =
      CheckCaller(*context, *hub, request->source_instance(), request->target_instance());
  absl::Status status = grant.status();
  std::vector<std::string> collectives;
  for (const std::string& id : request->collectives()) {
    if (!status.ok()) break;
    status = storage::ValidateId(id, "collectives");
    collectives.push_back(id);
  }
  if (status.ok()) {
    absl::StatusOr<std::vector<std::string>> readable = ReadableCollectives(*grant, collectives);
    if (readable.ok()) {
      collectives = std::move(*readable);
    } else {
      status = readable.status();
    }
  }
  absl::StatusOr<uint64_t> budget = ReplyBudget(request->max_reply_bytes(), hub->options());
  if (status.ok() && !budget.ok()) status = budget.status();
  if (status.ok() && !hub->accepting_streams()) {
    status = absl::UnavailableError("hub is shutting down");
  }
  if (status.ok()) status = hub->limiter().AcquireStream(request->source_instance());
  std::unique_ptr<storage::SnapshotReader> reader;
  if (status.ok()) {
    absl::StatusOr<std::unique_ptr<storage::SnapshotReader>> opened =
        hub->store().OpenSnapshot(std::move(collectives));
    if (opened.ok()) {
      reader = std::move(*opened);
    } else {
      status = opened.status();
      hub->limiter().ReleaseStream(request->source_instance());
    }
  }
  if (!status.ok()) {
    Log(LogLevel::kInfo, "snapshot_refused",
        {{"peer", storage::IdToText(request->source_instance())},
         {"code", absl::StatusCodeToString(status.code())},
         {"reason", std::string(status.message())}});
    hub->metrics().RecordRefusal(RpcMethod::kSnapshot, status);
    return new RefusedSnapshot(context, status);
  }
  // The peer resumes from the snapshot's sequence: hold compaction there for it.
  hub->RecordServed(request->source_instance(), reader->sequence());
  Log(LogLevel::kInfo, "snapshot",
      {{"peer", storage::IdToText(request->source_instance())},
       {"sequence", absl::StrCat(reader->sequence())},
       {"estimated_entities", absl::StrCat(reader->estimated_entities())}});
  std::shared_ptr<SnapshotStream> stream(new SnapshotStream(
      hub, context, request->source_instance(), std::move(reader), *budget - kReplyEnvelopeBytes));
  stream->self_ = stream;
  hub->AddStream(stream);
  stream->ScheduleNext();
  return stream.get();
}

SnapshotStream::SnapshotStream(HubContext* hub, grpc::CallbackServerContext* context,
                               std::string requester,
                               std::unique_ptr<storage::SnapshotReader> reader, uint64_t budget)
    : hub_(hub),
      context_(context),
      requester_(std::move(requester)),
      budget_(budget),
      reader_(std::move(reader)) {}

void SnapshotStream::ScheduleNext() {
  std::shared_ptr<SnapshotStream> self = shared_from_this();
  hub_->pool().Schedule([self] { self->Next(); });
}

void SnapshotStream::Next() {
  MutexLock lock(&mu_);
  if (finished_) return;
  const uint64_t estimate = reader_->estimated_entities();
  // Chunks of a few MiB, not the whole reply budget: the hub reads the next chunk while
  // the peer applies this one (the stream's flow control lets it run about a chunk
  // ahead), and neither side holds 64 MiB of one chunk at once. An item larger than that
  // goes alone, up to the budget.
  absl::StatusOr<bool> more =
      reader_->Next(std::min(budget_, kSnapshotChunkBytes), &chunk_, budget_);
  if (!more.ok()) {
    FinishLocked(more.status());
    return;
  }
  entities_sent_ += chunk_.entities_size();
  chunk_.set_responder_instance(hub_->hub_id());
  chunk_.set_total_entities(std::max(estimate, entities_sent_));
  last_written_ = !*more;
  writing_ = true;
  StartWrite(&chunk_);
}

void SnapshotStream::OnWriteDone(bool ok) {
  MutexLock lock(&mu_);
  writing_ = false;
  if (pending_finish_.has_value()) {
    Finish(ToGrpcStatus(*pending_finish_, context_));
    pending_finish_.reset();
    return;
  }
  if (!ok) {
    FinishLocked(absl::CancelledError("snapshot reader went away"));
    return;
  }
  if (finished_) return;
  if (last_written_) {
    Log(LogLevel::kInfo, "snapshot_done",
        {{"peer", storage::IdToText(requester_)}, {"entities", absl::StrCat(entities_sent_)}});
    FinishLocked(absl::OkStatus());
    return;
  }
  ScheduleNext();
}

void SnapshotStream::FinishLocked(const absl::Status& status) {
  if (finished_) return;
  finished_ = true;
  if (writing_) {
    pending_finish_ = status;
    return;
  }
  Finish(ToGrpcStatus(status, context_));
}

void SnapshotStream::OnCancel() {
  MutexLock lock(&mu_);
  FinishLocked(absl::CancelledError("snapshot cancelled"));
}

void SnapshotStream::Close(const absl::Status& status) {
  MutexLock lock(&mu_);
  FinishLocked(status);
}

void SnapshotStream::OnDone() {
  HubContext* const hub = hub_;
  hub->limiter().ReleaseStream(requester_);
  hub->RemoveStream(this);
  std::shared_ptr<SnapshotStream> keep;
  {
    MutexLock lock(&mu_);
    finished_ = true;
    reader_.reset();  // releases the RocksDB snapshot now
    keep = std::move(self_);
  }
  keep.reset();
  hub->StreamDone();  // last: the hub may be destroyed from here on
}

}  // namespace pulse::server
