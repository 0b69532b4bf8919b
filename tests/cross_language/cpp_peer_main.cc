// cpp_peer: the C++ side of the cross-language test, embedded the way an application
// embeds PulseSync: a Store with a SyncManager over GrpcSyncTransport (live mode). It
// creates a collective, records experiences there, and speaks the same JSON lines as
// the Python and Node example agents: {"event":"converged"} once --expect changes of
// other peers are in its store, and on SIGTERM or SIGINT a summary of its log: its own
// changes ("pushed") and every change it applied for others ("received"), each once per
// log entry, so a change applied twice would show up twice.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "common/command_line.h"
#include "storage/ids.h"
#include "storage/store.h"

ABSL_FLAG(std::string, hub, "127.0.0.1:7070", "the hub's host:port");
ABSL_FLAG(std::string, data_dir, "", "directory of this peer's store (created if missing)");
ABSL_FLAG(std::string, collective, "team", "name of the collective to create");
ABSL_FLAG(uint32_t, dimension, 4, "embedding length of the collective");
ABSL_FLAG(std::vector<std::string>, record, {}, "experiences to record (comma-separated)");
ABSL_FLAG(int, expect, 0, "report convergence once this many changes of others arrived");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60),
          "give up (exit 1) when no stop signal arrived by then");

namespace {

namespace pb = pulsedb::sync::v1;
using pulse::storage::IdToText;

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void Emit(const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string Describe(const pb::SyncChange& change) {
  const pb::SyncPayload& payload = change.payload();
  const std::string kind =
      payload.kind_case() == pb::SyncPayload::KIND_NOT_SET
          ? ""
          : payload.GetDescriptor()->FindFieldByNumber(payload.kind_case())->name();
  std::string text;
  if (payload.has_experience_created()) text = payload.experience_created().content();
  if (payload.has_collective_created()) text = payload.collective_created().name();
  return absl::StrCat("{\"origin\":", Quote(IdToText(change.source_instance())),
                      ",\"sequence\":", change.sequence(), ",\"kind\":", Quote(kind),
                      ",\"text\":", Quote(text), "}");
}

// Every entry of the store's log, oldest first.
absl::StatusOr<std::vector<pb::SyncChange>> WholeLog(const pulse::storage::Store& store) {
  std::vector<pb::SyncChange> all;
  pulse::storage::ScanRequest scan;
  for (;;) {
    absl::StatusOr<pulse::storage::ScanResult> page = store.log().Scan(scan);
    if (!page.ok()) return page.status();
    for (pb::SyncChange& change : page->changes) all.push_back(std::move(change));
    if (!page->has_more) return all;
    scan.after = page->scanned_through;
  }
}

int CountFromOthers(const std::vector<pb::SyncChange>& log, const std::string& self) {
  int count = 0;
  for (const pb::SyncChange& change : log) count += change.source_instance() != self;
  return count;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "cpp_peer: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  pulse::ParseFlagsOrExit(argc, argv, "cpp_peer: a C++ PulseSync peer for the cross-language test.",
                          "tests/cross_language/cpp_peer_main.cc");
  // Signals are taken synchronously below (sigtimedwait): block them before any thread
  // (gRPC's, the SyncManager's) starts, so they all inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  pulse::storage::StoreOptions options;
  options.sync_writes = false;  // a test peer: a power loss is not in scope
  auto store = pulse::storage::Store::Open(absl::GetFlag(FLAGS_data_dir), options);
  if (!store.ok()) return Fail(store.status());
  const std::string self = (*store)->instance_id();
  Emit(absl::StrCat(
      "{\"event\":\"ready\",\"agent\":\"cpp-peer\",\"instance\":", Quote(IdToText(self)), "}"));

  pb::Collective collective;
  collective.set_name(absl::GetFlag(FLAGS_collective));
  collective.set_embedding_dimension(absl::GetFlag(FLAGS_dimension));
  absl::StatusOr<pulse::storage::LocalWrite> created = (*store)->CreateCollective(collective);
  if (!created.ok()) return Fail(created.status());
  for (const std::string& text : absl::GetFlag(FLAGS_record)) {
    pb::Experience experience;
    experience.set_collective_id(created->id);
    experience.set_content(text);
    experience.mutable_embedding()->Resize(static_cast<int>(collective.embedding_dimension()),
                                           0.5f);
    experience.mutable_experience_type()->mutable_generic();
    experience.set_source_agent("cpp-peer");
    if (auto written = (*store)->CreateExperience(experience); !written.ok()) {
      return Fail(written.status());
    }
  }

  pulse::client::GrpcTransportOptions transport;
  transport.target = absl::GetFlag(FLAGS_hub);
  pulse::client::SyncManager manager(store->get(),
                                     std::make_shared<pulse::client::GrpcSyncTransport>(transport),
                                     pulse::client::SyncConfig{});
  if (absl::Status started = manager.Start(); !started.ok()) return Fail(started);

  // Wait for convergence, then for the stop signal, both within one deadline. Until
  // convergence the log's own wait wakes on every commit and the signal is checked
  // between waits (a 100 ms re-check period, not synchronization); after it, only the
  // signal is waited for.
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_timeout);
  const int expect = absl::GetFlag(FLAGS_expect);
  bool converged = expect == 0;
  bool stopped = false;
  uint64_t seen_head = 0;
  const timespec no_wait{0, 0};
  const timespec slice{0, 100 * 1000 * 1000};
  while (!stopped && absl::Now() < deadline) {
    if (converged) {
      stopped = sigtimedwait(&stop_signals, nullptr, &slice) > 0;
      continue;
    }
    const uint64_t head = (*store)->log().Head();
    if (head != seen_head) {
      seen_head = head;
      absl::StatusOr<std::vector<pb::SyncChange>> log = WholeLog(**store);
      if (!log.ok()) return Fail(log.status());
      const int others = CountFromOthers(*log, self);
      if (others >= expect) {
        Emit(absl::StrCat("{\"event\":\"converged\",\"received\":", others, "}"));
        converged = true;
      }
    }
    stopped = sigtimedwait(&stop_signals, nullptr, &no_wait) > 0;
    if (!stopped) (*store)->log().WaitForNew(seen_head, absl::Now() + absl::Milliseconds(100));
  }
  manager.Stop();
  if (!stopped) return Fail(absl::DeadlineExceededError("no stop signal before --timeout"));

  absl::StatusOr<std::vector<pb::SyncChange>> log = WholeLog(**store);
  if (!log.ok()) return Fail(log.status());
  std::string pushed, received;
  for (const pb::SyncChange& change : *log) {
    std::string& list = change.source_instance() == self ? pushed : received;
    absl::StrAppend(&list, list.empty() ? "" : ",", Describe(change));
  }
  Emit(absl::StrCat("{\"event\":\"summary\",\"instance\":", Quote(IdToText(self)), ",\"pushed\":[",
                    pushed, "],\"received\":[", received, "]}"));
  return 0;
}
