// The SyncManager engine against the in-memory hub (no gRPC): cursors, echo prevention,
// incremental pulls, status and lifecycle. The same behaviours over the real hub are in
// tests/peer_test.cc.
#include "client/sync_manager.h"

#include <atomic>
#include <mutex>
#include <optional>

#include "client/in_memory_sync_transport.h"
#include "client/sync_error.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pulse::client {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Eventually;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<storage::Store> Open(const std::string& name) {
    return *storage::Store::Open(dir_.Sub(name));
  }
  std::unique_ptr<SyncManager> Manager(storage::Store* store, SyncConfig config = {}) {
    return std::make_unique<SyncManager>(store, std::make_shared<InMemorySyncTransport>(hub_),
                                         config);
  }
  pulse::testing::TempDir dir_;
  std::shared_ptr<InMemoryHub> hub_ = std::make_shared<InMemoryHub>();
};

TEST_F(EngineTest, InMemoryTransportRoundTrip) {
  auto a = Open("a");
  auto b = Open("b");
  const std::string c = a->CreateCollective(MakeCollective())->id;
  const std::string e = a->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  EXPECT_EQ(hub_->head(), 2u);
  ASSERT_TRUE(Manager(b.get())->SyncOnce().ok());
  EXPECT_TRUE(b->GetExperience(e).ok());
}

TEST_F(EngineTest, IncrementalPullMovesOnlyNewChanges) {
  auto a = Open("a");
  auto b = Open("b");
  auto ma = Manager(a.get());
  auto mb = Manager(b.get());
  const std::string c = a->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(mb->status().pulled, 1u);
  ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(mb->status().pulled, 2u);  // one more, not three
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(mb->status().pulled, 2u);
}

TEST_F(EngineTest, AppliedChangesAreNeverPushedBack) {
  auto a = Open("a");
  auto b = Open("b");
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  auto mb = Manager(b.get());
  ASSERT_TRUE(mb->SyncOnce().ok());
  ASSERT_TRUE(mb->SyncOnce().ok());
  EXPECT_EQ(hub_->head(), 1u);  // b pushed nothing back
  EXPECT_EQ(mb->status().pushed, 0u);
}

TEST_F(EngineTest, PushAndPullCursorsAreSeparateAndPerHub) {
  auto a = Open("a");
  auto ma = Manager(a.get());
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  EXPECT_EQ(**a->GetCursor(hub_->instance_id(), storage::CursorKind::kPush), 1u);
  EXPECT_EQ(**a->GetCursor(hub_->instance_id(), storage::CursorKind::kPull), 1u);
  auto b = Open("b");
  ASSERT_TRUE(b->CreateCollective(MakeCollective()).ok());
  ASSERT_TRUE(Manager(b.get())->SyncOnce().ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  // a's pull cursor follows the hub's log (2), its push cursor a's own log (1... then 2,
  // because the applied change sits in a's log too and was passed over).
  EXPECT_EQ(**a->GetCursor(hub_->instance_id(), storage::CursorKind::kPull), 2u);
}

TEST_F(EngineTest, StatusStartStopAndASecondStartWhileRunningIsRefused) {
  auto a = Open("a");
  SyncConfig config;
  config.push_interval = absl::Milliseconds(20);
  config.pull_interval = absl::Milliseconds(20);
  auto ma = Manager(a.get(), config);
  EXPECT_FALSE(ma->status().running);
  ASSERT_TRUE(ma->Start().ok());
  EXPECT_TRUE(ma->status().running);
  EXPECT_EQ(ma->status().hub_id, hub_->instance_id());
  EXPECT_EQ(ma->Start().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a->CreateCollective(MakeCollective()).ok());
  EXPECT_TRUE(Eventually([&] { return hub_->head() == 1; }));
  ma->Stop();
  EXPECT_FALSE(ma->status().running);
  ma->Stop();                     // idempotent
  ASSERT_TRUE(ma->Start().ok());  // start after stop works
  ma->Stop();
}

TEST_F(EngineTest, InitialSyncReportsProgressPerBatch) {
  auto a = Open("a");
  const std::string c = a->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 24; ++i) ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  auto b = Open("b");
  SyncConfig config;
  config.batch_size = 10;
  auto mb = Manager(b.get(), config);
  std::vector<SyncProgress> steps;
  ASSERT_TRUE(mb->InitialSync([&](const SyncProgress& p) { steps.push_back(p); }).ok());
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].batch_complete, 10u);
  EXPECT_TRUE(steps[0].has_more);
  EXPECT_EQ(steps[2].batch_complete, 5u);
  EXPECT_EQ(steps[2].total_pulled, 25u);
  EXPECT_FALSE(steps[2].has_more);
}

// Records every Pull request, and how far the peer's store had applied when it was made.
class RecordingPullTransport final : public InMemorySyncTransport {
 public:
  RecordingPullTransport(std::shared_ptr<InMemoryHub> hub, storage::Store* peer)
      : InMemorySyncTransport(std::move(hub)), peer_(peer) {}
  struct Call {
    uint64_t cursor;
    std::optional<uint64_t> applied_through;
    uint64_t stored_when_asked;  // the peer's pull cursor as the request left
  };
  absl::StatusOr<pb::PullResponse> Pull(const pb::PullRequest& request) override {
    Call call;
    call.cursor = request.cursor().last_sequence();
    if (request.has_applied_through()) call.applied_through = request.applied_through();
    absl::StatusOr<std::optional<uint64_t>> stored =
        peer_->GetCursor(request.cursor().instance_id(), storage::CursorKind::kPull);
    call.stored_when_asked = stored.ok() ? stored->value_or(0) : 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(call);
    }
    return InMemorySyncTransport::Pull(request);
  }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  storage::Store* const peer_;
  std::mutex mu_;
  std::vector<Call> calls_;
};

// Page n+1 is asked for while page n is applied; the hub is told how far the peer has
// applied, never more.
TEST_F(EngineTest, InitialSyncAsksForTheNextPageBeforeApplyingThisOne) {
  auto a = Open("a");
  const std::string c = a->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  auto b = Open("b");
  SyncConfig config;
  config.batch_size = 2;
  auto transport = std::make_shared<RecordingPullTransport>(hub_, b.get());
  SyncManager manager(b.get(), transport, config);
  ASSERT_TRUE(manager.InitialSync().ok());
  EXPECT_EQ(b->log().Head(), 10u);
  const std::vector<RecordingPullTransport::Call> calls = transport->calls();
  ASSERT_EQ(calls.size(), 5u);  // 2+2+2+2+2, no request repeated
  EXPECT_FALSE(calls[0].applied_through.has_value());
  for (std::size_t i = 1; i < calls.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(calls[i].cursor, 2 * i);  // where page i-1 ended
    ASSERT_TRUE(calls[i].applied_through.has_value());
    EXPECT_EQ(*calls[i].applied_through, 2 * (i - 1));  // where page i-1 started
    EXPECT_LE(*calls[i].applied_through, calls[i].stored_when_asked);
  }
}

// A hub whose pages claim more but never advance (a broken or malicious hub).
class StuckPullTransport final : public InMemorySyncTransport {
 public:
  using InMemorySyncTransport::InMemorySyncTransport;
  absl::StatusOr<pb::PullResponse> Pull(const pb::PullRequest& request) override {
    pb::PullResponse response;
    response.set_has_more(true);
    *response.mutable_new_cursor() = request.cursor();
    return response;
  }
};

TEST_F(EngineTest, InitialSyncEndsWithCatchUpIncompleteWhenAPageDoesNotAdvance) {
  auto a = Open("a");
  SyncManager manager(a.get(), std::make_shared<StuckPullTransport>(hub_), SyncConfig());
  absl::Status status = manager.InitialSync();
  EXPECT_EQ(SyncErrorOf(status), SyncErrorKind::kCatchUpIncomplete) << status;
  EXPECT_NE(status.message().find("cursor 0"), absl::string_view::npos) << status;
}

// ----- status(): every field an operator or an application reads

// Pulls fail with UNAVAILABLE while `failing` is set; everything else goes through.
class FlakyPullTransport final : public InMemorySyncTransport {
 public:
  using InMemorySyncTransport::InMemorySyncTransport;
  absl::StatusOr<pb::PullResponse> Pull(const pb::PullRequest& request) override {
    if (failing) return absl::UnavailableError("hub unreachable (test)");
    return InMemorySyncTransport::Pull(request);
  }
  std::atomic<bool> failing{true};
};

TEST_F(EngineTest, StatusReportsLagFromTheHandshakeFailuresWithTheirTimeAndTheRecovery) {
  auto a = Open("a");
  auto ma = Manager(a.get());
  const std::string c = a->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(ma->SyncOnce().ok());
  EXPECT_EQ(ma->status().pushed, 5u);
  EXPECT_EQ(ma->status().lag, 0u);  // its own changes are passed over, not waited for

  auto b = Open("b");
  auto flaky = std::make_shared<FlakyPullTransport>(hub_);
  SyncManager mb(b.get(), flaky, SyncConfig());
  const absl::Time start = absl::Now();
  EXPECT_EQ(mb.SyncOnce().code(), absl::StatusCode::kUnavailable);
  SyncStatus status = mb.status();
  EXPECT_EQ(status.lag, 5u);  // known from the handshake, before any pull succeeded
  EXPECT_EQ(status.consecutive_failures, 1);
  EXPECT_EQ(status.last_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(status.last_error_time, start);
  EXPECT_EQ(status.last_success_time, absl::InfinitePast());
  EXPECT_EQ(status.state, SyncState::kError);
  EXPECT_EQ(status.pulled, 0u);
  EXPECT_EQ(mb.SyncOnce().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(mb.status().consecutive_failures, 2);

  flaky->failing = false;
  ASSERT_TRUE(mb.SyncOnce().ok());
  status = mb.status();
  EXPECT_EQ(status.lag, 0u);
  EXPECT_EQ(status.consecutive_failures, 0);
  EXPECT_EQ(status.pulled, 5u);
  EXPECT_EQ(status.pushed, 0u);
  EXPECT_EQ(status.state, SyncState::kIdle);
  EXPECT_GE(status.last_success_time, status.last_error_time);
  // The last error stays visible, with its time, after the recovery.
  EXPECT_EQ(status.last_error.code(), absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, LagFollowsTheHeadOfEachPullPage) {
  auto a = Open("a");
  const std::string c = a->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(Manager(a.get())->SyncOnce().ok());
  auto b = Open("b");
  SyncConfig config;
  config.batch_size = 2;
  auto mb = Manager(b.get(), config);
  std::vector<uint64_t> lags;
  ASSERT_TRUE(mb->InitialSync([&](const SyncProgress&) { lags.push_back(mb->status().lag); }).ok());
  EXPECT_EQ(lags, (std::vector<uint64_t>{3, 1, 0}));
}

// A Subscribe stream that delivers one scripted event, then waits to be cancelled.
class ScriptedStream final : public EventStream<pb::SubscribeEvent> {
 public:
  explicit ScriptedStream(pb::SubscribeEvent event) : event_(std::move(event)) {}
  bool Next(pb::SubscribeEvent* event) override {
    MutexLock lock(&mu_);
    if (!sent_) {
      sent_ = true;
      *event = event_;
      return true;
    }
    while (!cancelled_) cv_.Wait(&mu_);
    return false;
  }
  void Cancel() override {
    MutexLock lock(&mu_);
    cancelled_ = true;
    cv_.SignalAll();
  }
  absl::Status Finish() override { return absl::CancelledError("cancelled"); }

 private:
  const pb::SubscribeEvent event_;
  Mutex mu_;
  CondVar cv_;
  bool sent_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Its Subscribe says: nothing for you yet, but the log's head is at 7.
class BehindSubscribeTransport final : public InMemorySyncTransport {
 public:
  using InMemorySyncTransport::InMemorySyncTransport;
  std::unique_ptr<EventStream<pb::SubscribeEvent>> Subscribe(
      const pb::SubscribeRequest& request) override {
    pb::SubscribeEvent event;
    *event.mutable_cursor() = request.cursor();
    event.set_head_sequence(7);
    return std::make_unique<ScriptedStream>(event);
  }
};

TEST_F(EngineTest, LagFollowsTheHeadOfSubscribeEvents) {
  auto a = Open("a");
  SyncConfig config;
  config.live_mode = LiveMode::kOn;
  config.push_interval = absl::Milliseconds(20);
  config.pull_interval = absl::Milliseconds(20);
  SyncManager manager(a.get(), std::make_shared<BehindSubscribeTransport>(hub_), config);
  ASSERT_TRUE(manager.Start().ok());
  EXPECT_TRUE(Eventually([&] {
    const SyncStatus status = manager.status();
    return status.live && status.lag == 7;
  }));
  manager.Stop();
}

TEST_F(EngineTest, InvalidConfigIsRefusedAtStart) {
  auto a = Open("a");
  SyncConfig config;
  config.batch_size = 0;
  EXPECT_EQ(Manager(a.get(), config)->Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pulse::client
