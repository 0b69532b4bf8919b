#include "client/sync_config.h"

#include "client/sync_error.h"
#include "gtest/gtest.h"

namespace pulse::client {
namespace {

TEST(SyncConfig, DefaultsAreTheOriginalsAndValid) {
  SyncConfig config;
  EXPECT_TRUE(config.Validate().ok());
  EXPECT_EQ(config.direction, SyncDirection::kBidirectional);
  EXPECT_EQ(config.conflict_resolution, pulsedb::sync::v1::CONFLICT_RESOLUTION_SERVER_WINS);
  EXPECT_EQ(config.batch_size, 250u);  // the original's latest default
  EXPECT_EQ(config.push_interval, absl::Milliseconds(1000));
  EXPECT_EQ(config.pull_interval, absl::Milliseconds(1000));
  EXPECT_EQ(config.retry.max_retries, 5);
  EXPECT_EQ(config.retry.initial_backoff, absl::Milliseconds(500));
  EXPECT_EQ(config.retry.max_backoff, absl::Seconds(30));
  EXPECT_DOUBLE_EQ(config.retry.multiplier, 2.0);
  EXPECT_TRUE(config.collectives.empty());
  EXPECT_TRUE(config.sync_relations);
  EXPECT_TRUE(config.sync_insights);
  EXPECT_EQ(config.live_mode, LiveMode::kAuto);
  EXPECT_EQ(config.max_message_bytes, 64ull << 20);
}

TEST(SyncConfig, ValidationRejectsZeroBatchAndZeroIntervals) {
  SyncConfig config;
  config.batch_size = 0;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = SyncConfig();
  config.push_interval = absl::ZeroDuration();
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = SyncConfig();
  config.pull_interval = absl::ZeroDuration();
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = SyncConfig();
  config.retry.multiplier = 0.5;
  EXPECT_FALSE(config.Validate().ok());
  config = SyncConfig();
  config.collectives = {"not-16-bytes"};
  EXPECT_FALSE(config.Validate().ok());
  config = SyncConfig();
  config.max_message_bytes = 100;
  EXPECT_FALSE(config.Validate().ok());
}

TEST(SyncError, KindsRoundTripAndOnlyUnfixableOnesAreTerminal) {
  absl::Status s = MakeSyncError(SyncErrorKind::kChangeTooLarge,
                                 absl::StatusCode::kResourceExhausted, "too big");
  EXPECT_EQ(SyncErrorOf(s), SyncErrorKind::kChangeTooLarge);
  EXPECT_TRUE(IsTerminal(s));
  EXPECT_FALSE(IsTerminal(
      MakeSyncError(SyncErrorKind::kConnectionLost, absl::StatusCode::kUnavailable, "down")));
  EXPECT_FALSE(SyncErrorOf(absl::InternalError("plain")).has_value());
}

}  // namespace
}  // namespace pulse::client
