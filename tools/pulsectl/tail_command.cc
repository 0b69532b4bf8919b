// pulsectl tail: follows the hub's changes live (a Subscribe stream as an observer, which
// never holds compaction back), as human-readable lines or JSON lines.
#include <cstdio>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "storage/ids.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_FLAG(int64_t, from, -1, "tail: start after this log sequence (-1 = only new changes)");
ABSL_FLAG(std::vector<std::string>, collective, {},
          "tail, snapshot: only these collectives (UUIDs, comma separated)");
ABSL_FLAG(int64_t, count, 0, "tail: exit after this many changes (0 = follow forever)");

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

namespace {

std::string Short(const std::string& id) { return storage::IdToText(id).substr(0, 8); }

std::string Describe(const pb::SyncChange& change) {
  const pb::SyncPayload& p = change.payload();
  std::string kind =
      pb::SyncPayload::descriptor()->FindFieldByNumber(static_cast<int>(p.kind_case()))->name();
  std::string detail;
  if (p.has_experience_created()) {
    std::string content = p.experience_created().content();
    if (content.size() > 60) content = content.substr(0, 57) + "...";
    detail = absl::StrCat(storage::IdToText(p.experience_created().id()), " \"", content, "\"");
  } else if (p.has_collective_created()) {
    detail = absl::StrCat(storage::IdToText(p.collective_created().id()), " \"",
                          p.collective_created().name(), "\"");
  } else if (p.has_experience_updated()) {
    detail = storage::IdToText(p.experience_updated().id());
  } else {
    detail = "";
  }
  return absl::StrCat("#", change.log_sequence(), " ",
                      absl::FormatTime("%H:%M:%E3S", absl::FromUnixMillis(change.timestamp()),
                                       absl::LocalTimeZone()),
                      " from ", Short(change.source_instance()), " in ",
                      Short(change.collective_id()), " ", kind, " ", detail);
}

}  // namespace

int TailCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(
        stderr, "usage: pulsectl tail [--from=SEQ] [--collective=UUID,...] [--count=N] [--json]\n");
    return kExitUsage;
  }
  Hub hub = ConnectFromFlags();
  const std::string self = ToolInstanceId();
  absl::StatusOr<std::string> hub_id = Handshake(hub, self, {"observe"});
  if (!hub_id.ok()) return Fail(hub_id.status());
  pb::SubscribeRequest request;
  request.set_source_instance(self);
  request.set_target_instance(*hub_id);
  int64_t from = absl::GetFlag(FLAGS_from);
  if (from < 0) {
    pb::HubStatusResponse status;
    auto context = hub.Context();
    grpc::Status rpc = hub.admin->Status(context.get(), {}, &status);
    if (!rpc.ok()) return Fail(rpc);
    from = static_cast<int64_t>(status.head_sequence());
  }
  request.mutable_cursor()->set_last_sequence(static_cast<uint64_t>(from));
  for (const std::string& text : absl::GetFlag(FLAGS_collective)) {
    absl::StatusOr<std::string> id = storage::IdFromText(text);
    if (!id.ok()) return Fail(id.status());
    request.add_collectives(*id);
  }
  const int64_t limit = absl::GetFlag(FLAGS_count);
  const bool json = absl::GetFlag(FLAGS_json);
  auto context = hub.Context(/*streaming=*/true);
  auto reader = hub.sync->Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  int64_t seen = 0;
  while (reader->Read(&event)) {
    for (const pb::SyncChange& change : event.changes()) {
      if (json) {
        std::string line;
        (void)google::protobuf::util::MessageToJsonString(change, &line);
        std::printf("%s\n", line.c_str());
      } else {
        std::printf("%s\n", Describe(change).c_str());
      }
      std::fflush(stdout);
      if (limit > 0 && ++seen >= limit) {
        context->TryCancel();
        reader->Finish();
        return kExitOk;
      }
    }
  }
  grpc::Status end = reader->Finish();
  return end.ok() ? kExitOk : Fail(end);
}

}  // namespace pulse::pulsectl
