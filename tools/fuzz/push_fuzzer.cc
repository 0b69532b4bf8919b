// libFuzzer target: the path a pushed request takes through the hub, minus the network:
// decode the bytes as a PushRequest, check it as the hub does (request_checks.h), check
// embeddings against the store, and apply it to a scratch store as the authority. Then
// read back what a peer would (a pull scan and a snapshot). Anything but a clean status
// (a crash, a sanitizer report, a broken invariant) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "pulsedb/sync/v1/sync.pb.h"
#include "server/hub_options.h"
#include "server/request_checks.h"
#include "storage/snapshot_reader.h"
#include "storage/store.h"

namespace {

pulse::storage::Store& ScratchStore() {
  static pulse::storage::Store* store = [] {
    char pattern[] = "/tmp/pulse-fuzz-XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) std::abort();
    pulse::storage::StoreOptions options;
    options.sync_writes = false;  // speed; durability is not what is fuzzed
    options.authoritative = true;
    auto opened = pulse::storage::Store::Open(dir, options);
    if (!opened.ok()) std::abort();
    return opened->release();
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pulsedb::sync::v1::PushRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  pulse::storage::Store& store = ScratchStore();
  pulse::server::HubOptions options;
  if (!pulse::server::CheckPushBatch(request, options).ok()) return 0;
  if (!store.CheckEmbeddings(request.changes()).ok()) return 0;
  pulse::storage::ApplyContext context;
  context.mode = pulse::storage::ApplyMode::kAuthority;
  context.conflict_resolution = size % 2 == 0
                                    ? pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS
                                    : pulsedb::sync::v1::CONFLICT_RESOLUTION_LAST_WRITE_WINS;
  const uint64_t head_before = store.log().Head();
  absl::StatusOr<pulse::storage::ApplyReport> report =
      store.ApplyRemoteChanges(request.changes(), context);
  if (!report.ok()) return 0;  // a storage error: a clean status is fine
  // Invariants: the log only grows by what was applied, and stays readable.
  if (store.log().Head() < head_before) std::abort();
  pulse::storage::ScanRequest scan;
  scan.after = head_before;
  scan.max_changes = 1 << 20;
  absl::StatusOr<pulse::storage::ScanResult> page = store.log().Scan(scan);
  if (!page.ok() || page->changes.size() != store.log().Head() - head_before) std::abort();
  if (report->rejected < 0 || report->applied + report->duplicates + report->skipped +
                                      report->conflicts + report->rejected !=
                                  request.changes_size()) {
    std::abort();
  }
  absl::StatusOr<std::unique_ptr<pulse::storage::SnapshotReader>> reader = store.OpenSnapshot({});
  if (!reader.ok()) std::abort();
  pulsedb::sync::v1::SnapshotChunk chunk;
  absl::StatusOr<bool> more;
  do {
    more = (*reader)->Next(1 << 20, &chunk);
  } while (more.ok() && *more);
  return 0;
}
