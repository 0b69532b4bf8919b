// libFuzzer target: the path a pushed request takes through the hub, minus the network:
// decode the bytes as the hub does (server/received_push.h: gRPC slices, each change's
// bytes as received), check it (request_checks.h), check embeddings against the store,
// and apply it, with those bytes, to a scratch store as the authority. Then read back
// what a peer would: a pull scan, parsed and as stored bytes (the header reader of
// storage/change_header.h, which must agree with protobuf on every change it accepted),
// and a snapshot; and a filtered read, against the filter worked out on its own. One
// input in two goes to a peer's store instead, applied as a follower applies what its
// hub serves. Anything but a clean status (a crash, a sanitizer report, a broken
// invariant) is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "server/hub_options.h"
#include "server/received_push.h"
#include "server/request_checks.h"
#include "storage/change_header.h"
#include "storage/snapshot_reader.h"
#include "storage/store.h"

namespace {

pulse::storage::Store* OpenScratchStore(bool authoritative) {
  char pattern[] = "/tmp/pulse-fuzz-XXXXXX";
  const char* dir = mkdtemp(pattern);
  if (dir == nullptr) std::abort();
  pulse::storage::StoreOptions options;
  options.sync_writes = false;  // speed; durability is not what is fuzzed
  options.authoritative = authoritative;
  auto opened = pulse::storage::Store::Open(dir, options);
  if (!opened.ok()) std::abort();
  return opened->release();
}

// The hub's store, and a peer's (which applies what a hub serves it, as a follower).
pulse::storage::Store& ScratchStore(bool hub) {
  static pulse::storage::Store* hub_store = OpenScratchStore(true);
  static pulse::storage::Store* peer_store = OpenScratchStore(false);
  return hub ? *hub_store : *peer_store;
}

// A filtered read of what was just applied (what a Pull, Subscribe or a shared page
// serves a peer, and how read grants are enforced) returns exactly the entries that
// match the filter, worked out here on its own from the unfiltered read. The filter is
// chosen by the input: some of the batch's collectives and one it does not name, some
// entity types, the sender excluded or alone.
void CheckFilteredRead(const pulse::storage::Store& store, uint64_t after,
                       const pulse::storage::ScanResult& everything,
                       const pulsedb::sync::v1::PushRequest& request, const uint8_t* data,
                       size_t size) {
  if (size == 0) return;
  auto bit = [&](std::size_t i) { return (data[(i * 7 + 3) % size] >> (i % 8)) & 1; };
  pulse::storage::ScanRequest scan;
  scan.after = after;
  scan.max_changes = 1 << 20;
  std::size_t next_bit = 0;
  for (const pulsedb::sync::v1::SyncChange& change : request.changes()) {
    const std::string& c = change.collective_id();
    auto& chosen = scan.filter.collectives;
    if (bit(next_bit++) && std::find(chosen.begin(), chosen.end(), c) == chosen.end()) {
      chosen.push_back(c);
    }
  }
  if (bit(next_bit++)) scan.filter.collectives.push_back(std::string(16, '\x7f'));
  for (int type = 0; type < 4; ++type) {
    if (bit(next_bit++)) {
      scan.filter.entity_types.push_back(static_cast<pulsedb::sync::v1::SyncEntityType>(type));
    }
  }
  if (bit(next_bit++)) scan.filter.exclude_origin = request.source_instance();
  if (bit(next_bit++)) scan.filter.only_origin = request.source_instance();
  const pulse::storage::ScanFilter& f = scan.filter;
  std::vector<uint64_t> expected;
  for (const pulsedb::sync::v1::SyncChange& change : everything.changes) {
    const bool collective =
        f.collectives.empty() || std::find(f.collectives.begin(), f.collectives.end(),
                                           change.collective_id()) != f.collectives.end();
    const bool type =
        f.entity_types.empty() || std::find(f.entity_types.begin(), f.entity_types.end(),
                                            change.entity_type()) != f.entity_types.end();
    const bool origin =
        (f.exclude_origin.empty() || change.source_instance() != f.exclude_origin) &&
        (f.only_origin.empty() || change.source_instance() == f.only_origin);
    if (collective && type && origin) expected.push_back(change.log_sequence());
  }
  std::string wire;
  absl::StatusOr<pulse::storage::ScanResult> served = store.log().ScanWire(scan, &wire);
  if (!served.ok() || served->wire_changes.size() != expected.size()) std::abort();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (served->wire_changes[i].log_sequence != expected[i]) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // In slices, as gRPC hands a request over: their size comes from the input, so that
  // changes cut by a slice boundary are tried too.
  const std::size_t slice_size = size == 0 ? 1 : 1 + data[0] % 64 * 64;
  std::vector<grpc::Slice> slices;
  for (std::size_t at = 0; at < size; at += slice_size) {
    slices.emplace_back(data + at, std::min(slice_size, size - at));
  }
  const grpc::ByteBuffer bytes(slices.data(), slices.size());
  static pulse::server::ReceivedPush received;  // reused, as a PushStream slot's is
  received.Clear();
  if (!received.Parse(bytes).ok()) return 0;
  const pulsedb::sync::v1::PushRequest& request = received.request();
  // What the hub files an entry under (its header) is what protobuf parsed.
  for (std::size_t i = 0; i < received.change_bytes().size(); ++i) {
    const pulsedb::sync::v1::SyncChange& change = request.changes(static_cast<int>(i));
    pulse::storage::ChangeHeader header;
    if (!pulse::storage::ReadChangeHeader(received.change_bytes()[i], &header) ||
        header.sequence != change.sequence() ||
        header.source_instance != change.source_instance() ||
        header.collective_id != change.collective_id() ||
        header.entity_type != change.entity_type() || header.timestamp != change.timestamp()) {
      std::abort();
    }
  }
  // One input in two is applied the way a peer applies a page its hub served: as a
  // follower, with no hub request checks before (a peer validates each change itself).
  const bool as_hub = size == 0 || (data[0] & 0x40) == 0;
  pulse::storage::Store& store = ScratchStore(as_hub);
  pulse::server::HubOptions options;
  if (as_hub && !pulse::server::CheckPushBatch(request, options).ok()) return 0;
  if (!store.CheckEmbeddings(request.changes()).ok()) return 0;
  pulse::storage::ApplyContext context;
  context.mode =
      as_hub ? pulse::storage::ApplyMode::kAuthority : pulse::storage::ApplyMode::kFollower;
  context.conflict_resolution = size % 2 == 0
                                    ? pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS
                                    : pulsedb::sync::v1::CONFLICT_RESOLUTION_LAST_WRITE_WINS;
  const uint64_t head_before = store.log().Head();
  std::shared_ptr<pulse::storage::Store::PendingApply> staged =
      store.StageRemoteChanges(request.changes(), context, std::nullopt, /*after=*/nullptr,
                               received.change_bytes(), /*write_here=*/true);
  absl::StatusOr<pulse::storage::ApplyReport> report = store.FinishApply(*staged);
  if (!report.ok()) return 0;  // a storage error: a clean status is fine
  // Invariants: the log only grows by what was applied, and stays readable.
  if (store.log().Head() < head_before) std::abort();
  pulse::storage::ScanRequest scan;
  scan.after = head_before;
  scan.max_changes = 1 << 20;
  absl::StatusOr<pulse::storage::ScanResult> page = store.log().Scan(scan);
  if (!page.ok() || page->changes.size() != store.log().Head() - head_before) std::abort();
  std::string wire;
  absl::StatusOr<pulse::storage::ScanResult> stored = store.log().ScanWire(scan, &wire);
  if (!stored.ok() || stored->appended != page->changes.size()) std::abort();
  CheckFilteredRead(store, head_before, *page, request, data, size);
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
