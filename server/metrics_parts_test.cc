// The pieces behind /metrics, each alone: the text format, histograms, /proc parsing,
// commit times, peer leases, refusal reasons, and the CivetWeb server. The whole page
// over a real hub is tests/metrics_test.cc.
#include <atomic>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/status_payloads.h"
#include "gtest/gtest.h"
#include "server/commit_times.h"
#include "server/histogram.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/peer_lease.h"
#include "server/process_stats.h"
#include "server/prometheus_text.h"
#include "storage/ids.h"
#include "storage/store.h"
#include "tests/support/entities.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"

namespace pulse::server {
namespace {

namespace pb = pulsedb::sync::v1;

// ----- Text format

TEST(PrometheusText, FamiliesHaveHelpAndTypeAndSamplesEscapeLabelValues) {
  PrometheusText out;
  out.Family("pulse_x_total", PrometheusText::Type::kCounter, "Things.\nMore \\ things.");
  out.Sample("pulse_x_total", {{"peer", "a\"b\\c\nd"}, {"code", "OK"}}, uint64_t{7});
  out.Gauge("pulse_y_seconds", "A gauge.", 0.25);
  EXPECT_EQ(out.text(),
            "# HELP pulse_x_total Things.\\nMore \\\\ things.\n"
            "# TYPE pulse_x_total counter\n"
            "pulse_x_total{peer=\"a\\\"b\\\\c\\nd\",code=\"OK\"} 7\n"
            "# HELP pulse_y_seconds A gauge.\n"
            "# TYPE pulse_y_seconds gauge\n"
            "pulse_y_seconds 0.25\n");
}

TEST(PrometheusText, NumbersAreShortestExactAndSpecialValuesAreSpelledOut) {
  EXPECT_EQ(PrometheusText::FormatNumber(1764133228.144), "1764133228.144");
  EXPECT_EQ(PrometheusText::FormatNumber(0.1), "0.1");
  EXPECT_EQ(PrometheusText::FormatNumber(3), "3");
  EXPECT_EQ(PrometheusText::FormatNumber(1.0 / 0.0), "+Inf");
  EXPECT_EQ(PrometheusText::FormatNumber(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(PrometheusText::FormatNumber(0.0 / 0.0), "NaN");
}

// ----- Histogram

TEST(Histogram, BucketsAreCumulativeAndInclusiveWithSumAndCount) {
  Histogram h({0.1, 1});
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.Observe(v);
  Histogram::Counts counts = h.Read();
  EXPECT_EQ(counts.cumulative, (std::vector<uint64_t>{2, 3, 4}));  // le=0.1, le=1, +Inf
  EXPECT_DOUBLE_EQ(counts.sum, 3.65);
  EXPECT_EQ(counts.count, 4u);
  PrometheusText out;
  h.Write(out, "pulse_t_seconds", {{"method", "Push"}});
  EXPECT_EQ(out.text(),
            "pulse_t_seconds_bucket{method=\"Push\",le=\"0.1\"} 2\n"
            "pulse_t_seconds_bucket{method=\"Push\",le=\"1\"} 3\n"
            "pulse_t_seconds_bucket{method=\"Push\",le=\"+Inf\"} 4\n"
            "pulse_t_seconds_sum{method=\"Push\"} 3.65\n"
            "pulse_t_seconds_count{method=\"Push\"} 4\n");
}

// ----- /proc/self/status

TEST(ProcessStats, ParsesResidentMemoryAndThreads) {
  absl::StatusOr<ProcessStats> stats =
      ParseProcStatus("Name:\tpulse_hub\nVmRSS:\t   20480 kB\nThreads:\t17\nSigQ:\t0/1\n");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->resident_bytes, 20480u * 1024);
  EXPECT_EQ(stats->threads, 17u);
  EXPECT_EQ(ParseProcStatus("Threads:\t17\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStatus("VmRSS:\tmany kB\nThreads:\t1\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessStats, ReadsThisProcess) {
  absl::StatusOr<ProcessStats> stats = ReadProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->resident_bytes, 1u << 20);
  EXPECT_GE(stats->threads, 1u);
  EXPECT_EQ(ReadProcessStats("/nonexistent/status").status().code(),
            absl::StatusCode::kUnavailable);
}

// ----- Commit times

class CommitTimesTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *storage::Store::Open(dir_.Sub("db")); }
  pulse::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(CommitTimesTest, KnowsEntriesCommittedSinceItStartedAndNothingBefore) {
  const std::string c = store_->CreateCollective(pulse::testing::MakeCollective())->id;  // 1
  CommitTimes times(&store_->log());
  const absl::Time before = absl::Now();
  ASSERT_TRUE(store_->CreateExperience(pulse::testing::MakeExperience(c)).ok());  // 2
  const absl::Time after = absl::Now();
  EXPECT_FALSE(times.Of(1).has_value());  // before it listened
  ASSERT_TRUE(times.Of(2).has_value());
  EXPECT_GE(*times.Of(2), before);
  EXPECT_LE(*times.Of(2), after);
  EXPECT_FALSE(times.Of(3).has_value());  // not yet written
  // Unknown entries fall back to the change's own (origin) timestamp.
  pb::SyncChange old;
  old.set_log_sequence(1);
  old.set_timestamp(1000);
  EXPECT_EQ(times.CommittedAt(old), absl::FromUnixMillis(1000));
}

TEST_F(CommitTimesTest, AGroupCommitCoversEverySequenceInItAndOldRecordsAreForgotten) {
  CommitTimes times(&store_->log(), /*capacity=*/2);
  times.Record(3, absl::FromUnixSeconds(10));  // entries 1..3
  times.Record(5, absl::FromUnixSeconds(20));  // 4..5
  EXPECT_EQ(*times.Of(1), absl::FromUnixSeconds(10));
  EXPECT_EQ(*times.Of(3), absl::FromUnixSeconds(10));
  EXPECT_EQ(*times.Of(4), absl::FromUnixSeconds(20));
  times.Record(6, absl::FromUnixSeconds(30));  // the first record is forgotten
  EXPECT_FALSE(times.Of(3).has_value());
  EXPECT_EQ(*times.Of(5), absl::FromUnixSeconds(20));
  EXPECT_EQ(*times.Of(6), absl::FromUnixSeconds(30));
}

// ----- Peer lease

pb::PeerInfo PeerSeenAt(absl::Time seen) {
  pb::PeerInfo peer;
  peer.set_instance_id(storage::NewUuidV7());
  peer.set_last_seen(absl::ToUnixMillis(seen));
  return peer;
}

TEST(PeerLease, IdleBeyondTheLeaseIsExpiredUnlessAStreamIsOpen) {
  const absl::Time start = absl::FromUnixSeconds(1000000);
  PeerLease lease(absl::Hours(1), start);
  pb::PeerInfo peer = PeerSeenAt(start + absl::Minutes(1));
  EXPECT_FALSE(lease.IsExpired(peer, start + absl::Minutes(61)));
  EXPECT_TRUE(lease.IsExpired(peer, start + absl::Minutes(62)));
  lease.StreamOpened(peer.instance_id());
  EXPECT_EQ(lease.OpenStreams(peer.instance_id()), 1);
  EXPECT_EQ(lease.TotalOpenStreams(), 1);
  EXPECT_FALSE(lease.IsExpired(peer, start + absl::Hours(5)));  // connected, just quiet
  lease.StreamClosed(peer.instance_id());
  EXPECT_EQ(lease.TotalOpenStreams(), 0);
  EXPECT_TRUE(lease.IsExpired(peer, start + absl::Hours(5)));
}

TEST(PeerLease, IdleTimeCountsFromTheHubsStartAndZeroNeverExpires) {
  const absl::Time start = absl::FromUnixSeconds(1000000);
  PeerLease lease(absl::Hours(1), start);
  pb::PeerInfo peer = PeerSeenAt(start - absl::Hours(100));  // handshake long ago
  EXPECT_FALSE(lease.IsExpired(peer, start + absl::Minutes(59)));
  EXPECT_TRUE(lease.IsExpired(peer, start + absl::Minutes(61)));
  PeerLease never(absl::ZeroDuration(), start);
  EXPECT_FALSE(never.IsExpired(peer, start + absl::Hours(10000)));
}

// ----- Refusal reasons: a short fixed set, never the message

TEST(RefusalReason, MapsCodesAndTypedPayloadsToFixedCategories) {
  EXPECT_EQ(RefusalReason(absl::UnauthenticatedError("no token")), "unauthenticated");
  EXPECT_EQ(RefusalReason(absl::PermissionDeniedError("x")), "permission_denied");
  EXPECT_EQ(RefusalReason(CursorCompactedError(3, 10)), "cursor_compacted");
  EXPECT_EQ(RefusalReason(PeerChangedError(storage::NewUuidV7(), storage::NewUuidV7())),
            "peer_changed");
  EXPECT_EQ(RefusalReason(absl::FailedPreconditionError("unknown peer 01a2...: call Handshake")),
            "unknown_peer");
  EXPECT_EQ(RefusalReason(absl::InvalidArgumentError("bad id")), "invalid_request");
  EXPECT_EQ(RefusalReason(ChangeTooLargeError(4, 5000, 1024)), "change_too_large");
  EXPECT_EQ(RefusalReason(absl::ResourceExhaustedError("batch over 1000")), "over_limit");
  EXPECT_EQ(RefusalReason(absl::UnavailableError("shutting down")), "unavailable");
  EXPECT_EQ(RefusalReason(absl::CancelledError("gone")), "cancelled");
  EXPECT_EQ(RefusalReason(absl::DataLossError("corrupt")), "internal");
}

TEST(HubMetrics, CountersStartAtZeroAndRefusalsAreLabelledByMethodCodeAndReason) {
  HubMetrics metrics;
  PrometheusText empty;
  metrics.Write(empty);
  EXPECT_TRUE(absl::StrContains(empty.text(), "\npulse_pushes_total 0\n")) << empty.text();
  EXPECT_TRUE(absl::StrContains(empty.text(), "pulse_pushed_changes_total{result=\"applied\"} 0"));
  metrics.RecordCall(RpcMethod::kPush, absl::OkStatus(), absl::Milliseconds(3));
  metrics.RecordCall(RpcMethod::kPull, CursorCompactedError(1, 9), absl::Milliseconds(1));
  metrics.RecordRefusal(RpcMethod::kSubscribe, CursorCompactedError(1, 9));
  metrics.RecordRefusal(RpcMethod::kSubscribe, CursorCompactedError(2, 9));
  metrics.RecordProtocolMismatch();
  PrometheusText out;
  metrics.Write(out);
  const std::string& text = out.text();
  EXPECT_TRUE(absl::StrContains(text, "\npulse_pushes_total 1\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\npulse_pulls_total 0\n")) << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "pulse_refusals_total{method=\"Pull\",code=\"FAILED_PRECONDITION\","
                                "reason=\"cursor_compacted\"} 1"))
      << text;
  EXPECT_TRUE(absl::StrContains(text,
                                "pulse_refusals_total{method=\"Subscribe\",code=\"FAILED_"
                                "PRECONDITION\",reason=\"cursor_compacted\"} 2"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "pulse_refusals_total{method=\"Handshake\",code=\"OK\",reason=\"protocol_version\"} 1"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "pulse_push_duration_seconds_count 1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "pulse_pull_duration_seconds_count 1")) << text;
}

// ----- The HTTP server

TEST(MetricsHttpServer, ServesThePageOnAPickedPortWith404ElsewhereAnd500OnErrors) {
  std::atomic<bool> fail{false};
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("127.0.0.1:0", [&]() -> absl::StatusOr<std::string> {
        if (fail) return absl::InternalError("store closed");
        return std::string("pulse_up 1\n");
      });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  absl::StatusOr<pulse::testing::HttpResponse> page = pulse::testing::HttpGet(address, "/metrics");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->content_type, kPrometheusContentType);
  EXPECT_EQ(page->body, "pulse_up 1\n");
  absl::StatusOr<pulse::testing::HttpResponse> other = pulse::testing::HttpGet(address, "/other");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 404);
  fail = true;
  absl::StatusOr<pulse::testing::HttpResponse> failed =
      pulse::testing::HttpGet(address, "/metrics");
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, 500);
  EXPECT_TRUE(absl::StrContains(failed->body, "store closed")) << failed->body;
}

TEST(MetricsHttpServer, AnAddressInUseIsUnavailableAndStoppingIsPrompt) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first =
      MetricsHttpServer::Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(MetricsHttpServer::Start(taken, [] { return std::string(); }).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      MetricsHttpServer::Start("not-an-address", [] { return std::string(); }).status().code(),
      absl::StatusCode::kUnavailable);
  // CivetWeb alone notices a stop only at its 2 s poll quantum; half of that leaves room
  // for a loaded machine and still tells the two apart.
  const absl::Time asked = absl::Now();
  first->reset();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1));
}

}  // namespace
}  // namespace pulse::server
