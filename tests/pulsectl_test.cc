// pulsectl as an operator uses it, against a real pulse_hub process: status, tail, push,
// compact, snapshot and restore (the restored directory serves as a new hub), demo,
// --help and exit codes.
#include <sys/wait.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::ChildProcess;
using ::pulse::testing::RunfilePath;

struct Output {
  int exit_code = -1;
  std::string text;
};

class PulsectlTest : public ::testing::Test {
 protected:
  void SetUp() override { StartHub(dir_.Sub("hub")); }
  void TearDown() override { hub_.reset(); }

  void StartHub(const std::string& data_dir, const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {
        RunfilePath("server/pulse_hub"), "--listen=127.0.0.1:0",   "--data_dir=" + data_dir,
        "--log_level=warning",           "--retain_min_entries=0", "--metrics_listen=127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    hub_ = std::make_unique<ChildProcess>(argv);
    std::optional<std::string> line = hub_->WaitForLine("listening on", absl::Seconds(30));
    ASSERT_TRUE(line.has_value());
    address_ = line->substr(line->rfind(' ') + 1);
    hub_id_text_ = line->substr(std::string("pulse_hub ").size(), 36);
  }

  Output Run(std::vector<std::string> args) {
    std::vector<std::string> argv = {RunfilePath("tools/pulsectl/pulsectl"), "--hub=" + address_,
                                     "--identity_file=" + dir_.Sub("identity")};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess tool(argv);
    Output out;
    while (std::optional<std::string> line = tool.ReadLine(absl::Seconds(60))) {
      out.text += *line + "\n";
    }
    std::optional<int> status = tool.Wait(absl::Seconds(60));
    if (status.has_value() && WIFEXITED(*status)) out.exit_code = WEXITSTATUS(*status);
    return out;
  }

  // Pushes `count` experiences from a fresh peer with `pulsectl push`.
  void PushFromAPeer(int count) {
    auto peer = *storage::Store::Open(dir_.Sub("peer" + std::to_string(pushes_++)));
    const std::string c = peer->CreateCollective(testing::MakeCollective())->id;
    for (int i = 0; i < count; ++i)
      ASSERT_TRUE(peer->CreateExperience(testing::MakeExperience(c)).ok());
    pb::PushRequest request;
    request.set_source_instance(peer->instance_id());
    storage::ScanRequest scan;
    absl::StatusOr<storage::ScanResult> log = peer->log().Scan(scan);
    ASSERT_TRUE(log.ok());
    for (pb::SyncChange& change : log->changes) *request.add_changes() = std::move(change);
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
    const std::string path = dir_.Sub("push.json");
    std::ofstream(path) << json;
    Output pushed = Run({"push", path});
    EXPECT_EQ(pushed.exit_code, 0) << pushed.text;
    EXPECT_TRUE(absl::StrContains(pushed.text, "\"rejected\":0")) << pushed.text;
  }

  testing::TempDir dir_;
  std::unique_ptr<ChildProcess> hub_;
  std::string address_, hub_id_text_;
  int pushes_ = 0;
};

TEST_F(PulsectlTest, HelpUnknownCommandAndBadUsageExitCodes) {
  EXPECT_EQ(Run({"--help"}).exit_code, 0);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Run({"push"}).exit_code, 2);
  EXPECT_EQ(Run({"snapshot"}).exit_code, 2);
}

TEST_F(PulsectlTest, StatusShowsTheHubAndItsPeers) {
  PushFromAPeer(3);
  Output status = Run({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(status.text, "hub " + hub_id_text_)) << status.text;
  EXPECT_TRUE(absl::StrContains(status.text, "head 4")) << status.text;
  EXPECT_TRUE(absl::StrContains(status.text, "BEHIND")) << status.text;
  // The pushing peer never pulled: it is 4 changes behind, for some milliseconds now.
  EXPECT_TRUE(absl::StrContains(status.text, "         0         4  ")) << status.text;
  EXPECT_TRUE(absl::StrContains(status.text, "behind")) << status.text;
  Output json = Run({"status", "--json"});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(json.text, "\"headSequence\":\"4\"")) << json.text;
}

TEST_F(PulsectlTest, StatusShowsAPeerIdleBeyondTheLeaseAsExpired) {
  hub_.reset();
  StartHub(dir_.Sub("leased"), {"--peer_lease=100ms"});
  PushFromAPeer(1);
  Output status;
  EXPECT_TRUE(testing::Eventually(
      [&] {
        status = Run({"status"});
        return absl::StrContains(status.text, "expired");
      },
      absl::Seconds(20)))
      << status.text;
  Output json = Run({"status", "--json"});
  EXPECT_TRUE(absl::StrContains(json.text, "\"expired\":true")) << json.text;
}

TEST_F(PulsectlTest, TailPrintsChangesAsLinesOrJson) {
  PushFromAPeer(2);
  Output lines = Run({"tail", "--from=0", "--count=3"});
  EXPECT_EQ(lines.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(lines.text, "#1 ")) << lines.text;
  EXPECT_TRUE(absl::StrContains(lines.text, "collective_created")) << lines.text;
  EXPECT_TRUE(absl::StrContains(lines.text, "experience_created")) << lines.text;
  Output json = Run({"tail", "--from=1", "--count=1", "--json"});
  EXPECT_TRUE(absl::StrContains(json.text, "\"logSequence\":\"2\"")) << json.text;
}

TEST_F(PulsectlTest, UnreachableHubFailsWithExitOne) {
  address_ = "127.0.0.1:1";
  Output status = Run({"status", "--timeout=2s"});
  EXPECT_EQ(status.exit_code, 1);
}

TEST_F(PulsectlTest, SnapshotRestoreMakesADirectoryThatServesTheSameState) {
  PushFromAPeer(20);
  EXPECT_EQ(Run({"compact"}).exit_code, 0);
  const std::string file = dir_.Sub("hub.snapshot");
  Output saved = Run({"snapshot", "--out=" + file});
  ASSERT_EQ(saved.exit_code, 0) << saved.text;
  EXPECT_TRUE(absl::StrContains(saved.text, "wrote 21 entities")) << saved.text;
  const std::string restored_dir = dir_.Sub("restored");
  Output restored = Run({"restore", "--in=" + file, "--data_dir=" + restored_dir});
  ASSERT_EQ(restored.exit_code, 0) << restored.text;
  EXPECT_TRUE(absl::StrContains(restored.text, "restored 21 entities")) << restored.text;
  // Restoring twice into the same directory is refused.
  EXPECT_EQ(Run({"restore", "--in=" + file, "--data_dir=" + restored_dir}).exit_code, 1);
  EXPECT_EQ(Run({"restore", "--in=/nonexistent", "--data_dir=" + dir_.Sub("x")}).exit_code, 1);

  hub_.reset();
  StartHub(restored_dir);
  Output status = Run({"status"});
  EXPECT_TRUE(absl::StrContains(status.text, "head 21")) << status.text;
  EXPECT_TRUE(absl::StrContains(status.text, "oldest 22")) << status.text;
  // A second snapshot of the restored hub holds the same entities.
  Output again = Run({"snapshot", "--out=" + dir_.Sub("again.snapshot")});
  EXPECT_TRUE(absl::StrContains(again.text, "wrote 21 entities")) << again.text;
}

TEST_F(PulsectlTest, DemoRunsAHubWithTwoPeersAndExits) {
  Output demo = Run({"demo", "--listen=127.0.0.1:0", "--data_dir=" + dir_.Sub("demo"),
                     "--metrics_listen=127.0.0.1:0", "--exit_after_demo"});
  EXPECT_EQ(demo.exit_code, 0) << demo.text;
  EXPECT_TRUE(absl::StrContains(demo.text, "alice -> bob")) << demo.text;
  EXPECT_TRUE(absl::StrContains(demo.text, "applications 0 -> 1")) << demo.text;
  EXPECT_TRUE(absl::StrContains(demo.text, "stopped")) << demo.text;
  EXPECT_TRUE(absl::StrContains(demo.text, "metrics on http://127.0.0.1:")) << demo.text;
}

}  // namespace
}  // namespace pulse
