#include "server/library_logs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "grpc/grpc.h"
#include "grpc/support/log.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.pb.h"
#include "tests/support/temp_dir.h"

namespace pulse::server {
namespace {

namespace pb = pulsedb::sync::v1;

TEST(LogRateLimitTest, OneLinePerSourcePerIntervalThenTheCountHeldBack) {
  absl::Time now = absl::FromUnixSeconds(1000);
  LogRateLimit limit(absl::Seconds(1), [&] { return now; });
  int64_t held_back = -1;
  EXPECT_TRUE(limit.Allow("a", &held_back));
  EXPECT_EQ(held_back, 0);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.Allow("a", &held_back));
  EXPECT_TRUE(limit.Allow("b", &held_back));  // another source is not held back
  EXPECT_EQ(held_back, 0);
  now += absl::Milliseconds(999);
  EXPECT_FALSE(limit.Allow("a", &held_back));
  now += absl::Milliseconds(1);
  ASSERT_TRUE(limit.Allow("a", &held_back));
  EXPECT_EQ(held_back, 6);
  now += absl::Seconds(5);
  ASSERT_TRUE(limit.Allow("a", &held_back));
  EXPECT_EQ(held_back, 0);
}

// What the process writes to stderr while `body` runs.
template <typename Body>
std::string CaptureStderr(const std::string& path, Body body) {
  std::fflush(stderr);
  const int saved = dup(2);
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(file, 2);
  close(file);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(LibraryLogsTest, ProtobufAndGrpcLinesBecomeStructuredAndRateLimited) {
  grpc_init();  // as the hub's server does: gRPC reads its verbosity (ERROR) here
  RouteLibraryLogs();
  // A string field that is not UTF-8, as a peer may send it: protobuf refuses the message
  // and logs an ERROR for each one.
  pb::Experience experience;
  experience.set_content("ok");
  std::string wire = experience.SerializeAsString();
  wire[wire.size() - 1] = '\xff';
  testing::TempDir dir;
  const std::string text = CaptureStderr(dir.path() + "/stderr", [&] {
    for (int i = 0; i < 100; ++i) {
      pb::Experience parsed;
      EXPECT_FALSE(parsed.ParseFromString(wire));
    }
    gpr_log(GPR_ERROR, "a test line %d", 7);
  });
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  int protobuf_lines = 0, grpc_lines = 0;
  for (const std::string& line : lines) {
    EXPECT_FALSE(absl::StartsWith(line, "[libprotobuf")) << line;  // protobuf's own format
    if (absl::StrContains(line, " WARN protobuf ")) {
      ++protobuf_lines;
      EXPECT_TRUE(absl::StrContains(line, "invalid UTF-8")) << line;
      EXPECT_TRUE(absl::StrContains(line, " file=")) << line;
      EXPECT_TRUE(absl::StrContains(line, " suppressed=")) << line;
    }
    if (absl::StrContains(line, " WARN grpc ")) {
      ++grpc_lines;
      EXPECT_TRUE(absl::StrContains(line, "message=\"a test line 7\"")) << line;
    }
  }
  // A hundred refusals within well under a second: one line (two should the machine
  // stall for a second in between), not a hundred.
  EXPECT_GE(protobuf_lines, 1);
  EXPECT_LE(protobuf_lines, 2);
  EXPECT_EQ(grpc_lines, 1);
  grpc_shutdown();
}

// An Experience whose content is not UTF-8, serialized.
std::string NotUtf8Experience() {
  pb::Experience experience;
  experience.set_content("ok");
  std::string wire = experience.SerializeAsString();
  wire[wire.size() - 1] = '\xff';
  return wire;
}

TEST(ProtobufReasonTest, KeepsWhyProtobufRefusedAMessageOnItsThread) {
  RouteLibraryLogs();
  const std::string wire = NotUtf8Experience();
  ProtobufReason outer;
  {
    ProtobufReason inner;
    pb::Experience parsed;
    EXPECT_FALSE(parsed.ParseFromString(wire));
    EXPECT_TRUE(absl::StrContains(inner.text(), "'pulsedb.sync.v1.Experience.content'"))
        << inner.text();
    EXPECT_TRUE(absl::StrContains(inner.text(), "invalid UTF-8")) << inner.text();
    EXPECT_FALSE(absl::EndsWith(inner.text(), " "));
    EXPECT_FALSE(parsed.ParseFromString(wire));  // the first line is kept
  }
  EXPECT_EQ(outer.text(), "");  // the inner scope took it
  std::thread other([&] {
    pb::Experience parsed;
    EXPECT_FALSE(parsed.ParseFromString(wire));
  });
  other.join();
  EXPECT_EQ(outer.text(), "");  // another thread's line is not this thread's reason
  ProtobufReason::Offer("a line\n");
  EXPECT_EQ(outer.text(), "a line");
}

}  // namespace
}  // namespace pulse::server
