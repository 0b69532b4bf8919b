// pulsectl snapshot --out=FILE: the hub's current state (entities, tombstones, origin
// marks) into a file of length-delimited SnapshotChunk messages after a magic line.
// pulsectl restore --in=FILE --data_dir=DIR: a new store from such a file; DIR can then
// be a hub's data dir (peers rebind to its new identity and catch up) or a peer's.
#include <cstdio>
#include <fstream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

ABSL_DECLARE_FLAG(std::vector<std::string>, collective);
ABSL_FLAG(std::string, out, "", "snapshot: file to write");
ABSL_FLAG(std::string, in, "", "restore: snapshot file to read");
ABSL_FLAG(std::string, data_dir, "",
          "restore: directory of the new store (must not hold data); demo: the hub's data dir");

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

namespace {
constexpr char kMagic[] = "PULSESYNC-SNAPSHOT-1\n";
}  // namespace

int SnapshotCommand(const std::vector<std::string>& args) {
  const std::string out_path = absl::GetFlag(FLAGS_out);
  if (!args.empty() || out_path.empty()) {
    std::fprintf(stderr, "usage: pulsectl snapshot --out=FILE [--collective=UUID,...]\n");
    return kExitUsage;
  }
  Hub hub = ConnectFromFlags();
  const std::string self = ToolInstanceId();
  absl::StatusOr<std::string> hub_id = Handshake(hub, self, {"observe"});
  if (!hub_id.ok()) return Fail(hub_id.status());
  pb::SnapshotRequest request;
  request.set_source_instance(self);
  request.set_target_instance(*hub_id);
  for (const std::string& text : absl::GetFlag(FLAGS_collective)) {
    absl::StatusOr<std::string> id = storage::IdFromText(text);
    if (!id.ok()) return Fail(id.status());
    request.add_collectives(*id);
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(absl::PermissionDeniedError("cannot write " + out_path));
  out << kMagic;
  auto context = hub.Context(/*streaming=*/true);
  auto reader = hub.sync->Snapshot(context.get(), request);
  pb::SnapshotChunk chunk;
  uint64_t entities = 0;
  bool done = false;
  ProgressBar progress("snapshot");
  while (reader->Read(&chunk)) {
    if (!google::protobuf::util::SerializeDelimitedToOstream(chunk, &out)) {
      context->TryCancel();
      reader->Finish();
      return Fail(absl::DataLossError("write to " + out_path + " failed"));
    }
    entities += chunk.entities_size();
    done = chunk.done();
    progress.Update(entities, chunk.total_entities());
  }
  grpc::Status end = reader->Finish();
  if (!end.ok()) return Fail(end);
  if (!done) return Fail(absl::DataLossError("the snapshot stream ended early"));
  out.close();
  if (!out) return Fail(absl::DataLossError("write to " + out_path + " failed"));
  progress.Finish(entities);
  std::printf("wrote %llu entities consistent with log sequence %llu to %s\n",
              static_cast<unsigned long long>(entities),
              static_cast<unsigned long long>(chunk.sequence()), out_path.c_str());
  return kExitOk;
}

int RestoreCommand(const std::vector<std::string>& args) {
  const std::string in_path = absl::GetFlag(FLAGS_in);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (!args.empty() || in_path.empty() || data_dir.empty()) {
    std::fprintf(stderr, "usage: pulsectl restore --in=FILE --data_dir=DIR\n");
    return kExitUsage;
  }
  std::ifstream in(in_path, std::ios::binary);
  std::string magic(sizeof(kMagic) - 1, '\0');
  if (!in || !in.read(magic.data(), static_cast<std::streamsize>(magic.size())) ||
      magic != kMagic) {
    return Fail(absl::InvalidArgumentError(in_path + " is not a pulsectl snapshot file"));
  }
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(data_dir);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<std::vector<pb::Collective>> existing = (*store)->ListCollectives();
  if (!existing.ok()) return Fail(existing.status());
  if ((*store)->log().Head() != 0 || !existing->empty()) {
    return Fail(absl::FailedPreconditionError(data_dir + " already holds data; restore into "
                                                         "a new directory"));
  }
  google::protobuf::io::IstreamInputStream stream(&in);
  pb::SnapshotChunk chunk;
  uint64_t entities = 0;
  bool done = false;
  bool clean_eof = false;
  ProgressBar progress("restore");
  storage::ApplyContext follower;
  while (google::protobuf::util::ParseDelimitedFromZeroCopyStream(&chunk, &stream, &clean_eof)) {
    absl::StatusOr<storage::SnapshotApplyReport> report =
        (*store)->ApplySnapshotChunk(chunk, follower, chunk.responder_instance());
    if (!report.ok()) return Fail(report.status());
    entities += chunk.entities_size();
    progress.Update(entities, chunk.total_entities());
    if (chunk.done()) {
      done = true;
      break;
    }
  }
  if (!done) return Fail(absl::DataLossError(in_path + " is truncated: no final chunk"));
  if (absl::Status s = (*store)->MarkHistoryUnavailableThrough(chunk.sequence()); !s.ok()) {
    return Fail(s);
  }
  progress.Finish(entities);
  std::printf("restored %llu entities into %s (new instance %s)\n",
              static_cast<unsigned long long>(entities), data_dir.c_str(),
              storage::IdToText((*store)->instance_id()).c_str());
  return kExitOk;
}

}  // namespace pulse::pulsectl
