// The pulse_hub binary as an operator runs it: flags, the "listening on" line, clean
// stop on SIGTERM and SIGINT (exit 0, open streams ended with UNAVAILABLE), data kept
// across restarts.
#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/http_get.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::ChildProcess;
using ::pulse::testing::RunfilePath;

struct RunningHub {
  std::unique_ptr<ChildProcess> process;
  std::string address;
};

RunningHub StartHubProcess(const std::string& data_dir, bool capture_stderr = false) {
  RunningHub hub;
  hub.process = std::make_unique<ChildProcess>(
      std::vector<std::string>{RunfilePath("server/pulse_hub"), "--listen=127.0.0.1:0",
                               "--data_dir=" + data_dir, "--log_level=warning",
                               "--metrics_listen=127.0.0.1:0"},
      capture_stderr);
  std::optional<std::string> line = hub.process->WaitForLine("listening on", absl::Seconds(30));
  EXPECT_TRUE(line.has_value());
  if (line.has_value()) hub.address = line->substr(line->rfind(' ') + 1);
  return hub;
}

std::unique_ptr<grpc::ClientContext> Deadline() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  return context;
}

TEST(PulseHubProcess, HelpExitsZeroAndDocumentsEveryFlag) {
  ChildProcess help({RunfilePath("server/pulse_hub"), "--help"});
  std::string text;
  while (std::optional<std::string> line = help.ReadLine(absl::Seconds(20))) text += *line + "\n";
  std::optional<int> status = help.Wait(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  for (const char* flag : {"--listen", "--data_dir", "--sync", "--max_batch_size",
                           "--max_message_bytes", "--conflict_resolution", "--compaction_interval",
                           "--retain_min_entries", "--heartbeat_interval", "--log_level",
                           "--shutdown_grace", "--metrics_listen", "--peer_lease"}) {
    EXPECT_TRUE(absl::StrContains(text, flag)) << flag;
  }
}

TEST(PulseHubProcess, BadFlagValueExitsNonZeroWithAMessage) {
  ChildProcess bad({RunfilePath("server/pulse_hub"), "--conflict_resolution=coin-toss"});
  std::optional<int> status = bad.Wait(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
}

TEST(PulseHubProcess, SigtermEndsStreamsCleanlyExitsZeroAndKeepsData) {
  pulse::testing::TempDir dir;
  const std::string data_dir = dir.Sub("hub");
  auto peer = *storage::Store::Open(dir.Sub("peer"));
  ASSERT_TRUE(peer->CreateCollective(pulse::testing::MakeCollective()).ok());
  {
    RunningHub hub = StartHubProcess(data_dir);
    ASSERT_FALSE(hub.address.empty());
    auto stub = pb::SyncService::NewStub(
        grpc::CreateChannel(hub.address, grpc::InsecureChannelCredentials()));
    pb::HandshakeRequest hello;
    hello.set_instance_id(peer->instance_id());
    hello.set_protocol_version(1);
    pb::HandshakeResponse welcome;
    ASSERT_TRUE(stub->Handshake(Deadline().get(), hello, &welcome).ok());
    pb::PushRequest push;
    push.set_source_instance(peer->instance_id());
    storage::ScanRequest scan;
    *push.add_changes() = peer->log().Scan(scan)->changes[0];
    pb::PushResponse pushed;
    ASSERT_TRUE(stub->Push(Deadline().get(), push, &pushed).ok());
    ASSERT_EQ(pushed.new_cursor().last_sequence(), 1u);

    // A subscriber is connected when the signal arrives.
    pb::SubscribeRequest subscribe;
    subscribe.set_source_instance(peer->instance_id());
    auto context = Deadline();
    auto reader = stub->Subscribe(context.get(), subscribe);
    pb::SubscribeEvent event;
    ASSERT_TRUE(reader->Read(&event));  // the stream is live

    hub.process->Signal(SIGTERM);
    while (reader->Read(&event)) {
    }
    grpc::Status ended = reader->Finish();
    EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
    std::optional<int> status = hub.process->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value()) << "pulse_hub did not stop after SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
  {
    RunningHub hub = StartHubProcess(data_dir);
    auto stub = pb::SyncService::NewStub(
        grpc::CreateChannel(hub.address, grpc::InsecureChannelCredentials()));
    pb::HandshakeRequest hello;
    hello.set_instance_id(peer->instance_id());
    hello.set_protocol_version(1);
    pb::HandshakeResponse welcome;
    ASSERT_TRUE(stub->Handshake(Deadline().get(), hello, &welcome).ok());
    EXPECT_EQ(welcome.head_sequence(), 1u);  // the acknowledged push survived
    hub.process->Signal(SIGINT);
    std::optional<int> status = hub.process->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
}

// Protobuf logs an ERROR of its own for every request with a string that is not UTF-8;
// the hub refuses such a push and its stderr stays logfmt: the library's line comes as a
// structured `protobuf` event (server/library_logs.h), once however many such pushes.
TEST(PulseHubProcess, LibraryLogLinesAreStructuredAndRateLimited) {
  pulse::testing::TempDir dir;
  RunningHub hub = StartHubProcess(dir.Sub("hub"), /*capture_stderr=*/true);
  ASSERT_FALSE(hub.address.empty());
  auto stub = pb::SyncService::NewStub(
      grpc::CreateChannel(hub.address, grpc::InsecureChannelCredentials()));
  auto peer = *storage::Store::Open(dir.Sub("peer"));
  pb::PushRequest push;
  push.set_source_instance(peer->instance_id());
  pb::SyncChange& change = *push.add_changes();
  change.set_sequence(1);
  change.set_source_instance(peer->instance_id());
  change.mutable_payload()->mutable_experience_created()->set_content("not UTF-8: \xff");
  for (int i = 0; i < 20; ++i) {
    // The C++ serializer only logs (here, in the test) and sends the bytes all the same.
    pb::PushResponse pushed;
    grpc::Status status = stub->Push(Deadline().get(), push, &pushed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "'pulsedb.sync.v1.Experience.content'"))
        << status.error_message();
  }
  hub.process->Signal(SIGTERM);
  int protobuf_lines = 0;
  while (std::optional<std::string> line = hub.process->ReadLine(absl::Seconds(30))) {
    EXPECT_FALSE(absl::StartsWith(*line, "[libprotobuf")) << *line;
    if (absl::StrContains(*line, " WARN protobuf ")) {
      ++protobuf_lines;
      EXPECT_TRUE(absl::StrContains(*line, "invalid UTF-8")) << *line;
    }
  }
  // Twenty refusals in well under a second (two lines should the machine stall).
  EXPECT_GE(protobuf_lines, 1);
  EXPECT_LE(protobuf_lines, 2);
  std::optional<int> status = hub.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST(PulseHubProcess, ServesMetricsOnItsOwnAddressAndExitsZeroWhenItIsTaken) {
  pulse::testing::TempDir dir;
  RunningHub hub = StartHubProcess(dir.Sub("hub"));
  ASSERT_FALSE(hub.address.empty());
  // The second stdout line names the metrics page.
  std::optional<std::string> line = hub.process->WaitForLine("metrics on", absl::Seconds(30));
  ASSERT_TRUE(line.has_value());
  const std::string url = line->substr(line->rfind(' ') + 1);
  ASSERT_TRUE(absl::StartsWith(url, "http://127.0.0.1:")) << url;
  const std::string metrics_address =
      url.substr(7, url.size() - 7 - std::string("/metrics").size());
  absl::StatusOr<pulse::testing::HttpResponse> page =
      pulse::testing::HttpGet(metrics_address, "/metrics");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StrContains(page->body, "\npulse_wal_head_sequence 0\n")) << page->body;

  // A second hub asked to serve metrics on the same address refuses to start.
  ChildProcess second({RunfilePath("server/pulse_hub"), "--listen=127.0.0.1:0",
                       "--data_dir=" + dir.Sub("second"), "--log_level=warning",
                       "--metrics_listen=" + metrics_address});
  std::optional<int> status = second.Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);

  hub.process->Signal(SIGTERM);
  status = hub.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

}  // namespace
}  // namespace pulse
