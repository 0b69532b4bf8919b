#include "server/sync_service.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_payloads.h"
#include "server/compaction.h"
#include "server/push_stream.h"
#include "server/received_push.h"
#include "server/request_checks.h"
#include "server/snapshot_stream.h"
#include "server/status_mapping.h"
#include "server/subscribe_stream.h"
#include "server/wire_bytes.h"
#include "server/work_gate.h"
#include "storage/ids.h"
#include "storage/keys.h"

namespace pulse::server {

namespace pb = pulsedb::sync::v1;
using storage::IdToText;

namespace {

// Runs `work` on the pool and finishes the unary call with its status, recorded in the
// metrics with the time since the call arrived.
grpc::ServerUnaryReactor* RunOnPool(HubContext* hub, grpc::CallbackServerContext* context,
                                    RpcMethod method, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time arrived = absl::Now();
  hub->BeginCall();
  hub->pool().Schedule([hub, reactor, context, method, arrived, work = std::move(work)] {
    const absl::Status status = work();
    hub->metrics().RecordCall(method, status, absl::Now() - arrived);
    reactor->Finish(ToGrpcStatus(status, context));
    hub->EndCall();
  });
  return reactor;
}

std::string Millis(absl::Time start) {
  return absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start));
}

}  // namespace

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

grpc::ServerUnaryReactor* SyncServiceImpl::Handshake(grpc::CallbackServerContext* context,
                                                     const pb::HandshakeRequest* request,
                                                     pb::HandshakeResponse* response) {
  return RunOnPool(hub_, context, RpcMethod::kHandshake, [this, context, request, response] {
    absl::Status admitted = hub_->authorizer().Authenticate(*context).status();
    if (admitted.ok()) {
      admitted = hub_->limiter().AdmitRequest(request->instance_id(), absl::Now());
    }
    if (!admitted.ok()) {
      Log(LogLevel::kInfo, "handshake_refused",
          {{"peer", IdToText(request->instance_id())},
           {"reason", std::string(admitted.message())}});
      return admitted;
    }
    return DoHandshake(*request, response);
  });
}

absl::Status SyncServiceImpl::DoHandshake(const pb::HandshakeRequest& request,
                                          pb::HandshakeResponse* response) {
  if (absl::Status s = CheckHandshake(hub_->hub_id(), request); !s.ok()) {
    Log(LogLevel::kInfo, "handshake_refused",
        {{"peer", IdToText(request.instance_id())}, {"reason", std::string(s.message())}});
    return s;
  }
  const HubOptions& options = hub_->options();
  response->set_instance_id(hub_->hub_id());
  response->set_protocol_version(kProtocolVersion);
  response->mutable_limits()->set_max_batch_size(options.max_batch_size);
  response->mutable_limits()->set_max_message_bytes(options.max_message_bytes);
  response->set_oldest_sequence(hub_->store().log().OldestRetained());
  response->set_head_sequence(hub_->store().log().Head());
  response->set_conflict_resolution(options.conflict_resolution);
  for (const char* c : {"push", "push_stream", "pull", "subscribe", "snapshot"})
    response->add_capabilities(c);
  if (request.protocol_version() != kProtocolVersion) {
    response->set_accepted(false);
    response->set_reason(
        BoundedReason(absl::StrCat("protocol version mismatch: hub speaks ", kProtocolVersion,
                                   ", peer speaks ", request.protocol_version())));
    Log(LogLevel::kInfo, "handshake_refused",
        {{"peer", IdToText(request.instance_id())}, {"reason", response->reason()}});
    hub_->metrics().RecordProtocolMismatch();
    return absl::OkStatus();
  }
  std::vector<std::string> capabilities(request.capabilities().begin(),
                                        request.capabilities().end());
  if (absl::Status s = hub_->peers().Register(request.instance_id(), capabilities,
                                              absl::ToUnixMillis(absl::Now()));
      !s.ok()) {
    return s;
  }
  response->set_accepted(true);
  Log(LogLevel::kInfo, "handshake",
      {{"peer", IdToText(request.instance_id())},
       {"capabilities", absl::StrJoin(capabilities, ",")},
       {"head", absl::StrCat(response->head_sequence())}});
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------

grpc::ServerUnaryReactor* SyncServiceImpl::Push(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  return RunOnPool(hub_, context, RpcMethod::kPush, [this, context, request, response] {
    ReceivedPush received;
    {
      // Parsing is the CPU-heavy part bounded hub-wide; the staging below may write and
      // fsync on this thread (write_here), which must not hold a slot.
      WorkGate::Pass pass(hub_->push_gate());
      if (absl::Status s = received.Parse(*request); !s.ok()) return s;
    }
    pb::PushResponse reply;
    absl::Status status = DoPush(*context, received.request(), received.change_bytes(), &reply);
    if (status.ok()) *response = SerializedReply(reply);
    return status;
  });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SyncServiceImpl::PushStream(
    grpc::CallbackServerContext* context) {
  server::PushStream::Steps steps;
  steps.stage = [this, context](const pb::PushRequest& request,
                                absl::Span<const absl::string_view> wire,
                                const storage::Store::PendingApply* after) {
    return StagePush(*context, request, wire, after, /*write_here=*/false);
  };
  steps.finish = [this](const std::string& peer, int changes, absl::Time start,
                        storage::Store::PendingApply& staged, pb::PushResponse* response) {
    return FinishPush(peer, changes, start, staged, response);
  };
  return server::PushStream::Start(hub_, context, std::move(steps));
}

absl::Status SyncServiceImpl::DoPush(const grpc::ServerContextBase& context,
                                     const pb::PushRequest& request,
                                     absl::Span<const absl::string_view> wire,
                                     pb::PushResponse* response) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<storage::Store::PendingApply>> staged =
      StagePush(context, request, wire, /*after=*/nullptr, /*write_here=*/true);
  if (!staged.ok()) return staged.status();
  return FinishPush(request.source_instance(), request.changes_size(), start, **staged, response);
}

absl::StatusOr<std::shared_ptr<storage::Store::PendingApply>> SyncServiceImpl::StagePush(
    const grpc::ServerContextBase& context, const pb::PushRequest& request,
    absl::Span<const absl::string_view> wire, const storage::Store::PendingApply* after,
    bool write_here) {
  const std::string& peer = request.source_instance();
  absl::StatusOr<Grant> grant = CheckCaller(context, *hub_, peer, request.target_instance());
  absl::Status refused = grant.status();
  if (refused.ok()) refused = CheckPushBatch(request, hub_->options());
  if (refused.ok()) refused = CheckPushWritable(request, *grant);
  if (refused.ok()) refused = hub_->store().CheckEmbeddings(request.changes());
  if (!refused.ok()) {
    Log(LogLevel::kInfo, "push_refused",
        {{"peer", IdToText(peer)},
         {"code", absl::StatusCodeToString(refused.code())},
         {"reason", std::string(refused.message())}});
    return refused;
  }
  storage::ApplyContext apply;
  apply.mode = storage::ApplyMode::kAuthority;
  apply.conflict_resolution = hub_->options().conflict_resolution;
  apply.changes_validated = true;  // by CheckPushBatch, above
  return hub_->store().StageRemoteChanges(request.changes(), apply, std::nullopt, after, wire,
                                          write_here);
}

absl::Status SyncServiceImpl::FinishPush(const std::string& peer, int changes, absl::Time start,
                                         storage::Store::PendingApply& staged,
                                         pb::PushResponse* response) {
  absl::StatusOr<storage::ApplyReport> report = hub_->store().FinishApply(staged);
  if (!report.ok()) {
    Log(LogLevel::kError, "push_failed",
        {{"peer", IdToText(peer)}, {"error", report.status().ToString()}});
    return report.status();
  }
  hub_->metrics().RecordPushedChanges(*report);
  // The peer's mark as this push left it (a later push of a stream may be written by now).
  absl::StatusOr<uint64_t> mark = report->origin_mark.has_value()
                                      ? absl::StatusOr<uint64_t>(*report->origin_mark)
                                      : hub_->store().OriginMark(peer);
  if (!mark.ok()) return mark.status();
  response->set_accepted(static_cast<uint32_t>(report->applied + report->duplicates +
                                               report->skipped + report->conflicts));
  response->set_rejected(static_cast<uint32_t>(report->rejected));
  response->set_duplicates(static_cast<uint32_t>(report->duplicates));
  response->set_conflicts(static_cast<uint32_t>(report->conflicts));
  if (report->safe_through.has_value()) response->set_safe_through(*report->safe_through);
  response->mutable_new_cursor()->set_instance_id(peer);
  response->mutable_new_cursor()->set_last_sequence(*mark);
  response->set_responder_instance(hub_->hub_id());
  if (report->failed_index.has_value()) {
    response->mutable_first_failure()->set_sequence(report->failed_sequence);
    response->mutable_first_failure()->set_reason(std::string(report->failure.message()));
  }
  if (report->future_timestamps > 0) {
    Log(LogLevel::kWarning, "future_timestamps",
        {{"peer", IdToText(peer)}, {"count", absl::StrCat(report->future_timestamps)}});
  }
  Log(LogLevel::kInfo, "push",
      {{"peer", IdToText(peer)},
       {"changes", absl::StrCat(changes)},
       {"applied", absl::StrCat(report->applied)},
       {"duplicates", absl::StrCat(report->duplicates)},
       {"skipped", absl::StrCat(report->skipped)},
       {"conflicts", absl::StrCat(report->conflicts)},
       {"rejected", absl::StrCat(report->rejected)},
       {"acknowledged", absl::StrCat(*mark)},
       {"ms", Millis(start)}});
  if (report->failed_index.has_value()) {
    Log(LogLevel::kWarning, "push_rejected",
        {{"peer", IdToText(peer)},
         {"sequence", absl::StrCat(report->failed_sequence)},
         {"reason", std::string(report->failure.message())}});
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Pull
// ---------------------------------------------------------------------------

grpc::ServerUnaryReactor* SyncServiceImpl::Pull(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  return RunOnPool(hub_, context, RpcMethod::kPull, [this, context, request, response] {
    pb::PullRequest parsed;
    if (absl::Status s = ParseRequest(*request, &parsed, "PullRequest"); !s.ok()) return s;
    auto head = std::make_unique<std::string>();
    std::shared_ptr<const std::string> changes;
    absl::Status status = DoPull(*context, parsed, head.get(), &changes);
    // The reply's bytes go to gRPC as they are, its head first; the changes may be a page
    // other replies send too.
    if (status.ok()) *response = SharedByteBuffer(std::move(head), std::move(changes), nullptr);
    return status;
  });
}

absl::Status SyncServiceImpl::DoPull(const grpc::ServerContextBase& context,
                                     const pb::PullRequest& request, std::string* head,
                                     std::shared_ptr<const std::string>* changes) {
  const absl::Time start = absl::Now();
  const std::string& peer = request.source_instance();
  absl::StatusOr<Grant> grant = CheckCaller(context, *hub_, peer, request.target_instance());
  absl::Status refused = grant.status();
  absl::StatusOr<storage::ScanRequest> scan = absl::UnknownError("not built");
  if (!refused.ok()) {
    scan = refused;
  } else {
    ReadRequest read;
    read.cursor = &request.cursor();
    read.batch_size = request.batch_size();
    read.collectives = &request.collectives();
    read.entity_types = &request.entity_types();
    read.max_reply_bytes = request.max_reply_bytes();
    scan = BuildScan(read, peer, hub_->hub_id(), hub_->options(), *grant);
  }
  // What the peer has applied: its cursor, or less when it pages ahead of its applies.
  uint64_t applied = request.cursor().last_sequence();
  if (scan.ok() && request.has_applied_through()) {
    if (request.applied_through() > applied) {
      scan = absl::InvalidArgumentError(
          absl::StrCat("applied_through ", request.applied_through(), " is beyond the cursor ",
                       applied, ": a peer cannot have applied what it has not pulled"));
    } else {
      applied = request.applied_through();
    }
  }
  if (scan.ok() && request.acknowledge_only()) {
    pb::PullResponse acknowledged;
    absl::Status s = Acknowledge(peer, request, applied, &acknowledged);
    if (s.ok()) acknowledged.AppendToString(head);
    return s;
  }
  // The changes as stored; the other fields go before them on the wire (a message's
  // fields may come in any order), built once the scan has said where the page ends.
  absl::StatusOr<storage::ScanResult> page = absl::UnknownError("not scanned");
  if (!scan.ok()) {
    page = scan.status();
  } else {
    // The page this peer's previous Pull had scanned ahead, when it is still exact.
    std::optional<SharedPage> ahead = hub_->read_ahead().Take(peer, *scan);
    if (ahead.has_value()) hub_->metrics().RecordPullPageReadAhead();
    absl::StatusOr<SharedPage> read =
        ahead.has_value() ? std::move(*ahead) : hub_->pages().Read(*scan);
    if (read.ok()) {
      *changes = std::move(read->wire);
      page = std::move(read->result);
    } else {
      page = read.status();
    }
  }
  if (page.ok() && page->appended == 0 && page->oversized.has_value()) {
    page =
        ChangeTooLargeError(page->oversized->log_sequence, page->oversized->bytes, scan->max_bytes);
  }
  if (!page.ok()) {
    Log(LogLevel::kInfo, "pull_refused",
        {{"peer", IdToText(peer)},
         {"code", absl::StatusCodeToString(page.status().code())},
         {"reason", std::string(page.status().message())}});
    return page.status();
  }
  // The request acknowledges what the peer has applied: register it, even for an empty
  // page, so compaction waits for this peer.
  hub_->RecordServed(peer, applied);
  // A peer paging through the log asks for the next page as soon as it has this one.
  hub_->read_ahead().ReadAheadAfter(peer, *scan, *page);
  const std::size_t count = page->appended;
  hub_->metrics().RecordPulledChanges(count);
  pb::PullResponse envelope;
  envelope.set_has_more(page->has_more);
  envelope.mutable_new_cursor()->set_instance_id(hub_->hub_id());
  envelope.mutable_new_cursor()->set_last_sequence(page->scanned_through);
  envelope.set_responder_instance(hub_->hub_id());
  envelope.set_head_sequence(hub_->store().log().Head());
  envelope.AppendToString(head);
  if (LogEnabled(LogLevel::kDebug)) {
    Log(LogLevel::kDebug, "pull",
        {{"peer", IdToText(peer)},
         {"cursor", absl::StrCat(request.cursor().last_sequence())},
         {"changes", absl::StrCat(count)},
         {"new_cursor", absl::StrCat(page->scanned_through)},
         {"has_more", page->has_more ? "true" : "false"},
         {"ms", Millis(start)}});
  }
  return absl::OkStatus();
}

absl::Status SyncServiceImpl::Acknowledge(const std::string& peer, const pb::PullRequest& request,
                                          uint64_t applied, pb::PullResponse* response) {
  const uint64_t cursor = request.cursor().last_sequence();
  const uint64_t head = hub_->store().log().Head();
  if (cursor > head) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot acknowledge cursor ", cursor, ": the log's head is ", head));
  }
  hub_->RecordServed(peer, applied);
  response->set_has_more(cursor < head);
  response->mutable_new_cursor()->set_instance_id(hub_->hub_id());
  response->mutable_new_cursor()->set_last_sequence(cursor);
  response->set_responder_instance(hub_->hub_id());
  response->set_head_sequence(head);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

grpc::ServerWriteReactor<grpc::ByteBuffer>* SyncServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return SubscribeStream::Start(hub_, context, request);
}

grpc::ServerWriteReactor<pb::SnapshotChunk>* SyncServiceImpl::Snapshot(
    grpc::CallbackServerContext* context, const pb::SnapshotRequest* request) {
  return SnapshotStream::Start(hub_, context, request);
}

// ---------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------

namespace {

absl::Status CheckAdmin(const HubContext& hub, const grpc::ServerContextBase& context) {
  absl::StatusOr<Grant> grant = hub.authorizer().Authenticate(context);
  if (!grant.ok()) return grant.status();
  if (!grant->admin) {
    return absl::PermissionDeniedError(absl::StrCat(grant->name, " is not an admin token"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* SyncAdminImpl::Status(grpc::CallbackServerContext* context,
                                                const pb::HubStatusRequest*,
                                                pb::HubStatusResponse* response) {
  return RunOnPool(hub_, context, RpcMethod::kStatus, [this, context, response] {
    if (absl::Status s = CheckAdmin(*hub_, *context); !s.ok()) return s;
    return BuildHubStatus(*hub_, response);
  });
}

grpc::ServerUnaryReactor* SyncAdminImpl::Compact(grpc::CallbackServerContext* context,
                                                 const pb::CompactRequest*,
                                                 pb::CompactResponse* response) {
  return RunOnPool(hub_, context, RpcMethod::kCompact, [this, context, response]() -> absl::Status {
    if (absl::Status s = CheckAdmin(*hub_, *context); !s.ok()) return s;
    absl::StatusOr<CompactionResult> run = CompactHubLog(*hub_, "admin");
    if (!run.ok()) return run.status();
    response->set_removed(run->removed);
    response->set_oldest_sequence(run->oldest_retained);
    return absl::OkStatus();
  });
}

}  // namespace pulse::server
