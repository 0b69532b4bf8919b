// The hub's /metrics page over HTTP: after a known sequence of pushes, pulls, refusals,
// a Subscribe and a compaction it shows exactly those numbers; `promtool check metrics`
// accepts it; and a real Prometheus server scrapes it (its `up` is 1 and the per-peer
// lag series is in its query API). Everything on 127.0.0.1.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/http_get.h"
#include "tests/support/hub_fixture.h"
#include "tests/support/process.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::ChildProcess;
using ::pulse::testing::Deadline;
using ::pulse::testing::Eventually;
using ::pulse::testing::HttpGet;
using ::pulse::testing::HttpResponse;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr char kPrometheus[] = "/usr/bin/prometheus";

// One scrape: every sample line as "name{labels}" -> value.
class Scrape {
 public:
  explicit Scrape(std::string text) : text_(std::move(text)) {
    for (absl::string_view line : absl::StrSplit(text_, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "#")) continue;
      const std::size_t space = line.rfind(' ');
      double value = 0;
      if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
        ADD_FAILURE() << "bad sample line: " << line;
        continue;
      }
      samples_[std::string(line.substr(0, space))] = value;
    }
  }
  bool Has(const std::string& series) const { return samples_.count(series) > 0; }
  // The value of `series`; a test failure (and -1) when absent.
  double operator[](const std::string& series) const {
    auto it = samples_.find(series);
    if (it == samples_.end()) {
      ADD_FAILURE() << "no series " << series << " in:\n" << text_;
      return -1;
    }
    return it->second;
  }
  const std::string& text() const { return text_; }

 private:
  const std::string text_;
  std::map<std::string, double> samples_;
};

std::string PeerLabel(const storage::Store& peer) {
  return "{peer=\"" + storage::IdToText(peer.instance_id()) + "\"}";
}

class MetricsTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    StartHub();
    ASSERT_GT(hub().metrics_port(), 0);
    a_ = NewPeerStore("a");
    b_ = NewPeerStore("b");
    ASSERT_TRUE(Handshake(*a_).ok());
    ASSERT_TRUE(Handshake(*b_).ok());
  }

  absl::StatusOr<HttpResponse> Get(const std::string& path) {
    return HttpGet(hub().metrics_address(), path);
  }

  Scrape ScrapeNow() {
    absl::StatusOr<HttpResponse> page = Get("/metrics");
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return Scrape("");
    EXPECT_EQ(page->status, 200) << page->body;
    EXPECT_EQ(page->content_type, "text/plain; version=0.0.4; charset=utf-8");
    return Scrape(page->body);
  }

  // a pushes a collective and 4 experiences (hub log 1..5), then replays them; b pulls
  // 3 and then 2 (acknowledging 3); a pulls once acknowledging 5; one Pull from a peer
  // that never shook hands and one empty Push are refused.
  void KnownSequence() {
    const std::string c = a_->CreateCollective(MakeCollective())->id;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
    pb::PushResponse pushed;
    ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
    ASSERT_EQ(pushed.accepted(), 5u);
    ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
    ASSERT_EQ(pushed.duplicates(), 5u);
    pb::PullResponse page;
    ASSERT_TRUE(Pull(*b_, 0, 3, &page).ok());
    ASSERT_EQ(page.changes_size(), 3);
    ASSERT_TRUE(Pull(*b_, 3, 10, &page).ok());
    ASSERT_EQ(page.changes_size(), 2);
    ASSERT_TRUE(Pull(*a_, 5, 10, &page).ok());
    ASSERT_EQ(page.changes_size(), 0);
    auto stranger = NewPeerStore("stranger");
    EXPECT_EQ(Pull(*stranger, 0, 10, &page).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    pb::PushRequest empty;
    empty.set_source_instance(a_->instance_id());
    EXPECT_EQ(stub().Push(Deadline().get(), empty, &pushed).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  std::unique_ptr<storage::Store> a_, b_;
};

TEST_F(MetricsTest, AfterKnownPushesAndPullsTheScrapeShowsExactlyThoseNumbers) {
  const double start = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  KnownSequence();
  const Scrape s = ScrapeNow();
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_EQ(s["pulse_wal_head_sequence"], 5);
  EXPECT_EQ(s["pulse_wal_oldest_retained_sequence"], 1);
  // b acknowledged 3 (the cursor of its last Pull): 2 behind, for as long as entry 4 has
  // waited since this hub committed it.
  EXPECT_EQ(s["pulse_peer_served_cursor_sequence" + PeerLabel(*b_)], 3);
  EXPECT_EQ(s["pulse_peer_lag_changes" + PeerLabel(*b_)], 2);
  EXPECT_GT(s["pulse_peer_lag_seconds" + PeerLabel(*b_)], 0);
  EXPECT_LT(s["pulse_peer_lag_seconds" + PeerLabel(*b_)], now - start + 0.001);
  EXPECT_EQ(s["pulse_peer_served_cursor_sequence" + PeerLabel(*a_)], 5);
  EXPECT_EQ(s["pulse_peer_lag_changes" + PeerLabel(*a_)], 0);
  EXPECT_EQ(s["pulse_peer_lag_seconds" + PeerLabel(*a_)], 0);
  for (const storage::Store* peer : {a_.get(), b_.get()}) {
    const double seen = s["pulse_peer_last_seen_timestamp_seconds" + PeerLabel(*peer)];
    EXPECT_GE(seen, start - 0.001);
    EXPECT_LE(seen, now + 0.001);
    EXPECT_EQ(s["pulse_peer_subscribers" + PeerLabel(*peer)], 0);
    EXPECT_EQ(s["pulse_peer_expired" + PeerLabel(*peer)], 0);
  }
  EXPECT_EQ(s["pulse_peer_lease_seconds"], 7 * 24 * 3600);
  EXPECT_EQ(s["pulse_pushes_total"], 2);
  EXPECT_EQ(s["pulse_pulls_total"], 3);
  EXPECT_EQ(s["pulse_pushed_changes_total{result=\"applied\"}"], 5);
  EXPECT_EQ(s["pulse_pushed_changes_total{result=\"duplicate\"}"], 5);
  EXPECT_EQ(s["pulse_pushed_changes_total{result=\"rejected\"}"], 0);
  EXPECT_EQ(s["pulse_pulled_changes_total"], 5);
  EXPECT_EQ(s["pulse_refusals_total{method=\"Pull\",code=\"FAILED_PRECONDITION\",reason="
              "\"unknown_peer\"}"],
            1);
  EXPECT_EQ(s["pulse_refusals_total{method=\"Push\",code=\"INVALID_ARGUMENT\",reason="
              "\"invalid_request\"}"],
            1);
  EXPECT_EQ(s["pulse_push_duration_seconds_count"], 3);  // refused calls included
  EXPECT_EQ(s["pulse_pull_duration_seconds_count"], 4);
  EXPECT_EQ(s["pulse_push_duration_seconds_bucket{le=\"+Inf\"}"], 3);
  EXPECT_GT(s["pulse_push_duration_seconds_sum"], 0);
  EXPECT_EQ(s["pulse_compaction_runs_total"], 0);
  EXPECT_GE(s["pulse_commit_groups_total"], 2);  // at least the two pushes
  EXPECT_LE(s["pulse_commit_groups_pipelined_total"], s["pulse_commit_groups_total"]);
  EXPECT_GT(s["pulse_commit_stage_seconds_total"], 0);
  EXPECT_GT(s["pulse_commit_write_seconds_total"], 0);  // with fsyncs: not a rounding
  EXPECT_EQ(s["pulse_push_gate_slots"], hub().context().push_gate().slots());
  EXPECT_GE(s["pulse_push_gate_wait_seconds_total"], 0);  // two pushes, one after the other
  EXPECT_GE(s["pulse_rocksdb_live_data_size_bytes"], 0);
  EXPECT_GE(s["pulse_rocksdb_pending_compaction_bytes"], 0);
  EXPECT_GT(s["pulse_process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(s["pulse_process_threads"], 2);
  // Three Pulls' pages, and maybe b's first page's read-ahead; none the same page.
  EXPECT_GE(s["pulse_log_pages_total{how=\"scanned\"}"], 3);
  EXPECT_LE(s["pulse_log_pages_total{how=\"scanned\"}"], 4);
  EXPECT_EQ(s["pulse_log_pages_total{how=\"shared\"}"], 0);

  // Compaction by the slowest peer (b at 3) removes 1..3.
  ASSERT_EQ(*hub().CompactNow(), 3u);
  const Scrape after = ScrapeNow();
  EXPECT_EQ(after["pulse_compaction_runs_total"], 1);
  EXPECT_EQ(after["pulse_compaction_removed_entries_total"], 3);
  EXPECT_EQ(after["pulse_wal_oldest_retained_sequence"], 4);
}

TEST_F(MetricsTest, APageTwoPeersReadIsScannedOnceAndCountedShared) {
  StopHub();
  hub_options().shared_pages_together = absl::Minutes(1);  // however slow this machine
  StartHub();
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  auto third = NewPeerStore("third");
  ASSERT_TRUE(Handshake(*third).ok());
  pb::PullResponse page;
  ASSERT_TRUE(Pull(*a_, 3, 10, &page).ok());  // another peer reads too: pages are kept
  const Scrape before = ScrapeNow();
  ASSERT_TRUE(Pull(*b_, 0, 10, &page).ok());
  ASSERT_EQ(page.changes_size(), 3);
  ASSERT_TRUE(Pull(*third, 0, 10, &page).ok());
  ASSERT_EQ(page.changes_size(), 3);
  const Scrape after = ScrapeNow();
  const std::string scanned = "pulse_log_pages_total{how=\"scanned\"}";
  const std::string shared = "pulse_log_pages_total{how=\"shared\"}";
  EXPECT_EQ(after[scanned] - before[scanned], 1);
  EXPECT_EQ(after[shared] - before[shared], 1);
  EXPECT_GT(after["pulse_shared_pages_bytes"], 0);
}

TEST_F(MetricsTest, TheSameNumbersAsSyncAdminStatus) {
  KnownSequence();
  pb::HubStatusResponse status;
  ASSERT_TRUE(admin().Status(Deadline().get(), {}, &status).ok());
  const Scrape s = ScrapeNow();
  ASSERT_EQ(status.peers_size(), 2);
  for (const pb::PeerInfo& peer : status.peers()) {
    const std::string label = "{peer=\"" + storage::IdToText(peer.instance_id()) + "\"}";
    EXPECT_EQ(s["pulse_peer_served_cursor_sequence" + label], peer.served_cursor());
    EXPECT_EQ(s["pulse_peer_lag_changes" + label], peer.lag());
    EXPECT_FALSE(peer.expired());
  }
}

TEST_F(MetricsTest, SubscribersAndDeliveryLatencyFromCommitToWrite) {
  pb::SubscribeRequest request;
  request.set_source_instance(b_->instance_id());
  request.mutable_cursor()->set_instance_id(hub().instance_id());
  auto context = Deadline();
  std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>> stream =
      stub().Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  ASSERT_TRUE(stream->Read(&event));  // the first (empty) event: the stream is live
  EXPECT_EQ(ScrapeNow()["pulse_peer_subscribers" + PeerLabel(*b_)], 1);
  EXPECT_EQ(ScrapeNow()["pulse_subscribers"], 1);

  const absl::Time before_commit = absl::Now();
  ASSERT_TRUE(a_->CreateCollective(MakeCollective()).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  do {
    ASSERT_TRUE(stream->Read(&event));
  } while (event.changes_size() == 0);
  const double bound = absl::ToDoubleSeconds(absl::Now() - before_commit);
  // The write completes (and is recorded) just after the client has read it.
  EXPECT_TRUE(Eventually([&] { return ScrapeNow()["pulse_subscribe_delivery_seconds_count"] == 1; },
                         absl::Seconds(20)));
  const Scrape s = ScrapeNow();
  EXPECT_EQ(s["pulse_delivered_changes_total"], 1);
  EXPECT_GT(s["pulse_subscribe_delivery_seconds_sum"], 0);
  EXPECT_LT(s["pulse_subscribe_delivery_seconds_sum"], bound + 1);
  // While subscribed, b counts as seen now.
  EXPECT_GE(s["pulse_peer_last_seen_timestamp_seconds" + PeerLabel(*b_)],
            absl::ToDoubleSeconds(before_commit - absl::UnixEpoch()));

  context->TryCancel();
  while (stream->Read(&event)) {
  }
  stream->Finish();
  EXPECT_TRUE(Eventually([&] { return ScrapeNow()["pulse_subscribers"] == 0; }, absl::Seconds(20)));
  EXPECT_EQ(ScrapeNow()["pulse_peer_subscribers" + PeerLabel(*b_)], 0);
}

TEST_F(MetricsTest, ObserversHaveNoPerPeerSeriesAndOtherPathsAre404) {
  auto observer = NewPeerStore("observer");
  pb::HandshakeRequest request;
  request.set_instance_id(observer->instance_id());
  request.set_protocol_version(1);
  request.add_capabilities("observe");
  pb::HandshakeResponse response;
  ASSERT_TRUE(stub().Handshake(Deadline().get(), request, &response).ok());
  const Scrape s = ScrapeNow();
  EXPECT_TRUE(s.Has("pulse_peer_lag_changes" + PeerLabel(*a_)));
  EXPECT_FALSE(s.Has("pulse_peer_lag_changes" + PeerLabel(*observer))) << s.text();
  absl::StatusOr<HttpResponse> other = Get("/");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 404);
}

TEST_F(MetricsTest, AProtocolMismatchCountsAsARefusedHandshake) {
  pb::HandshakeRequest request;
  request.set_instance_id(a_->instance_id());
  request.set_protocol_version(9);
  pb::HandshakeResponse response;
  ASSERT_TRUE(stub().Handshake(Deadline().get(), request, &response).ok());
  ASSERT_FALSE(response.accepted());
  EXPECT_EQ(ScrapeNow()["pulse_refusals_total{method=\"Handshake\",code=\"OK\",reason="
                        "\"protocol_version\"}"],
            1);
}

TEST_F(MetricsTest, EveryExportedMetricIsDocumentedInOperationsMdAndNothingMore) {
  KnownSequence();
  std::ifstream in(testing::RunfilePath("docs/operations.md"));
  ASSERT_TRUE(in) << "docs/operations.md not in runfiles";
  std::stringstream doc_text;
  doc_text << in.rdbuf();
  const std::string doc = doc_text.str();
  const std::string metrics_section = doc.substr(doc.find("## Metrics"));
  std::set<std::string> exported;
  const Scrape page = ScrapeNow();
  for (absl::string_view line : absl::StrSplit(page.text(), '\n')) {
    if (!absl::StartsWith(line, "# TYPE ")) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    exported.insert(words[2]);
    EXPECT_TRUE(absl::StrContains(metrics_section, "| `" + words[2] + "`") ||
                absl::StrContains(metrics_section, "| `" + words[2] + "{"))
        << words[2] << " is exported but not in the table of docs/operations.md";
  }
  // Every metric named in a table row exists.
  for (absl::string_view line : absl::StrSplit(metrics_section, '\n')) {
    if (!absl::StartsWith(line, "| `pulse_")) continue;
    const absl::string_view name = line.substr(3, line.find_first_of("`{", 3) - 3);
    EXPECT_TRUE(exported.count(std::string(name))) << name << " is documented but not exported";
  }
  EXPECT_EQ(exported.size(), 34u);
}

TEST(MetricsOptions, AMetricsAddressInUseFailsTheStartAndEmptyTurnsItOff) {
  testing::TempDir dir;
  server::HubOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "127.0.0.1:0";
  options.data_dir = dir.Sub("one");
  absl::StatusOr<std::unique_ptr<server::Hub>> first = server::Hub::Start(options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.metrics_listen_address = (*first)->metrics_address();
  options.data_dir = dir.Sub("two");
  EXPECT_EQ(server::Hub::Start(options).status().code(), absl::StatusCode::kUnavailable);
  options.metrics_listen_address = "";
  absl::StatusOr<std::unique_ptr<server::Hub>> off = server::Hub::Start(options);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ((*off)->metrics_port(), 0);
}

// ----- Prometheus's own tools

// Runs `command` with /bin/sh; returns its exit code and its output (stdout and stderr).
std::pair<int, std::string> Shell(const std::string& command) {
  ChildProcess child({"/bin/sh", "-c", command + " 2>&1"});
  std::string output;
  while (std::optional<std::string> line = child.ReadLine(absl::Seconds(60))) {
    output += *line + "\n";
  }
  std::optional<int> status = child.Wait(absl::Seconds(60));
  const int code = status.has_value() && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  return {code, output};
}

bool Installed(const char* path) { return access(path, X_OK) == 0; }

TEST_F(MetricsTest, PromtoolAcceptsTheExposition) {
  ASSERT_TRUE(Installed(kPromtool)) << kPromtool << " is missing: run tools/dev setup "
                                    << "(Debian package prometheus)";
  KnownSequence();
  ASSERT_TRUE(hub().CompactNow().ok());
  const std::string path = dir_.Sub("metrics.txt");
  const Scrape s = ScrapeNow();
  std::ofstream(path) << s.text();
  const auto [code, output] = Shell(absl::StrCat(kPromtool, " check metrics < ", path));
  EXPECT_EQ(code, 0) << output << "\n" << s.text();
  // The check is real: it refuses a counter without _total.
  const std::string bad = dir_.Sub("bad.txt");
  std::ofstream(bad) << "# HELP pulse_x A counter.\n# TYPE pulse_x counter\npulse_x 1\n";
  EXPECT_NE(Shell(absl::StrCat(kPromtool, " check metrics < ", bad)).first, 0);
}

// A real Prometheus server on loopback with its own configuration and storage in this
// test's temporary directory, scraping the hub every second.
class PrometheusServer {
 public:
  // Starts it on a free port; retries if the port was taken in the meantime.
  static std::unique_ptr<PrometheusServer> Start(const std::string& dir,
                                                 const std::string& target) {
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  evaluation_interval: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: pulse\n"
                             "    static_configs:\n"
                             "      - targets: ['"
                          << target << "']\n";
    for (int attempt = 0; attempt < 3; ++attempt) {
      absl::StatusOr<int> port = testing::FreeLoopbackPort();
      if (!port.ok()) continue;
      auto server = std::unique_ptr<PrometheusServer>(new PrometheusServer());
      server->address_ = absl::StrCat("127.0.0.1:", *port);
      server->process_ = std::make_unique<ChildProcess>(std::vector<std::string>{
          kPrometheus, "--config.file=" + config, "--web.listen-address=" + server->address_,
          absl::StrCat("--storage.tsdb.path=", dir, "/tsdb", attempt), "--log.level=warn"});
      // Ready when its API answers; gone (port taken) when it exits.
      bool exited = false;
      const bool ready = Eventually(
          [&] {
            exited = server->process_->Wait(absl::ZeroDuration()).has_value();
            if (exited) return true;
            absl::StatusOr<HttpResponse> r =
                HttpGet(server->address_, "/-/ready", absl::Seconds(2));
            return r.ok() && r->status == 200;
          },
          absl::Seconds(30));
      if (ready && !exited) return server;
    }
    return nullptr;
  }
  ~PrometheusServer() {
    process_->Signal(SIGTERM);
    process_->Wait(absl::Seconds(10));  // the destructor kills it if still running
  }

  // The body of /api/v1/query for `query` (already URL-encoded), or "" on error.
  std::string Query(const std::string& encoded_query) {
    absl::StatusOr<HttpResponse> r =
        HttpGet(address_, "/api/v1/query?query=" + encoded_query, absl::Seconds(5));
    return r.ok() && r->status == 200 ? r->body : "";
  }

 private:
  PrometheusServer() = default;
  std::string address_;
  std::unique_ptr<ChildProcess> process_;
};

TEST_F(MetricsTest, ARealPrometheusScrapesTheHubAndHasThePeerLagSeries) {
  ASSERT_TRUE(Installed(kPrometheus)) << kPrometheus << " is missing: run tools/dev setup "
                                      << "(Debian package prometheus)";
  const absl::Time started = absl::Now();
  KnownSequence();
  std::unique_ptr<PrometheusServer> prometheus =
      PrometheusServer::Start(dir_.path(), hub().metrics_address());
  ASSERT_NE(prometheus, nullptr) << "prometheus did not start";
  std::string up;
  EXPECT_TRUE(Eventually(
      [&] {
        up = prometheus->Query("up%7Bjob%3D%22pulse%22%7D");  // up{job="pulse"}
        return absl::StrContains(up, "\"job\":\"pulse\"") && absl::StrContains(up, ",\"1\"]");
      },
      absl::Seconds(40)))
      << up;
  // pulse_peer_lag_changes{peer="<b>"}: b is 2 changes behind.
  const std::string b = storage::IdToText(b_->instance_id());
  std::string lag;
  EXPECT_TRUE(Eventually(
      [&] {
        lag = prometheus->Query("pulse_peer_lag_changes%7Bpeer%3D%22" + b + "%22%7D");
        return absl::StrContains(lag, "\"peer\":\"" + b + "\"");
      },
      absl::Seconds(10)))
      << lag;
  EXPECT_TRUE(absl::StrContains(lag, ",\"2\"]")) << lag;
  EXPECT_LT(absl::Now() - started, absl::Seconds(60));
}

}  // namespace
}  // namespace pulse
