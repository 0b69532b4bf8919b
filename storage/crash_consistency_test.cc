// A writer process is killed with SIGKILL in the middle of a stream of writes. On reopen
// the store's log and entities must agree: replaying the log into an empty store gives
// exactly the entities found, and every write the child saw acknowledged is there.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/temp_dir.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

// The writer runs as its own program (crash_writer_main.cc), started with fork+exec so
// that the child starts clean whatever threads this test process has.
std::string WriterPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "pulsesync") +
         "/storage/crash_writer";
}

TEST(CrashConsistency, SigkillMidStreamLeavesLogAndEntitiesInAgreement) {
  pulse::testing::TempDir dir;
  const std::string path = dir.Sub("db");
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      const std::string writer = WriterPath();
      const std::string fd = std::to_string(fds[1]);
      execl(writer.c_str(), writer.c_str(), path.c_str(), fd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    // Let it write a varying amount, then kill it without warning.
    uint64_t acknowledged = 0, seq = 0;
    const int target = 50 + 70 * round;
    for (int n = 0; n < target; ++n) {
      ASSERT_EQ(read(fds[0], &seq, sizeof seq), static_cast<ssize_t>(sizeof seq));
      acknowledged = seq;
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    close(fds[0]);

    absl::StatusOr<std::unique_ptr<Store>> reopened = Store::Open(path);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_GE((*reopened)->log().Head(), acknowledged) << "an acknowledged write was lost";

    ScanRequest all;
    all.max_changes = 1 << 20;
    absl::StatusOr<ScanResult> log = (*reopened)->log().Scan(all);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ(log->changes.size(), (*reopened)->log().Head());
    absl::StatusOr<std::unique_ptr<Store>> replay =
        Store::Open(dir.Sub("replay" + std::to_string(round)));
    ASSERT_TRUE(replay.ok());
    ApplyContext follower;
    follower.mode = ApplyMode::kFollower;
    absl::StatusOr<ApplyReport> report = (*replay)->ApplyRemoteChanges(log->changes, follower);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_FALSE(report->failed_index.has_value()) << report->failure;
    EXPECT_EQ(*(*replay)->CanonicalDump(), *(*reopened)->CanonicalDump());
  }
}

}  // namespace
}  // namespace pulse::storage
