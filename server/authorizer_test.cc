#include "server/authorizer.h"

#include "gtest/gtest.h"
#include "storage/ids.h"

namespace pulse::server {
namespace {

TEST(Authorizer, ParsesTokensWithReadWriteAndAdmin) {
  const std::string c1 = storage::NewUuidV7();
  const std::string text =
      "# comment\n"
      "reader-token-0123456789 read=" +
      storage::IdToText(c1) +
      "\n"
      "\n"
      "writer-token-0123456789 read=* write=* admin\n";
  absl::StatusOr<std::unique_ptr<Authorizer>> auth = Authorizer::FromText(text);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->enabled());
}

TEST(Authorizer, MalformedFilesNameTheLine) {
  EXPECT_EQ(Authorizer::FromText("short read=*").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status bad =
      Authorizer::FromText("a-long-enough-token-1234\nother-token-123456789 read=nope").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("line 2"), absl::string_view::npos) << bad;
  EXPECT_FALSE(Authorizer::FromText("a-long-enough-token-1234 bogus=1").ok());
  EXPECT_FALSE(Authorizer::FromText("# only comments\n").ok());
  EXPECT_EQ(Authorizer::FromFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReadableCollectives, RestrictsToWhatTheGrantMayRead) {
  const std::string c1 = storage::NewUuidV7(), c2 = storage::NewUuidV7();
  Grant grant;
  grant.read.insert(c1);
  grant.name = "token #1";
  absl::StatusOr<std::vector<std::string>> all = ReadableCollectives(grant, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, std::vector<std::string>{c1});
  EXPECT_TRUE(ReadableCollectives(grant, {c1}).ok());
  EXPECT_EQ(ReadableCollectives(grant, {c1, c2}).status().code(),
            absl::StatusCode::kPermissionDenied);
  Grant nothing;
  EXPECT_EQ(ReadableCollectives(nothing, {}).status().code(), absl::StatusCode::kPermissionDenied);
  Grant everything;
  everything.read_all = true;
  EXPECT_TRUE(ReadableCollectives(everything, {}).value().empty());  // empty = all
}

}  // namespace
}  // namespace pulse::server
