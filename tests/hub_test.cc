// The hub over real gRPC on loopback: relay, cursors and filters, exactly-once pushes,
// live Subscribe, Snapshot, compaction, restarts, and every kind of bad request.
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/pull_reply_head.h"
#include "common/status_payloads.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "gtest/gtest.h"
#include "server/snapshot_stream.h"
#include "server/wire_buffer_pool.h"
#include "storage/ids.h"
#include "storage/keys.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Deadline;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

class HubTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    StartHub();
    a_ = NewPeerStore("a");
    b_ = NewPeerStore("b");
    ASSERT_TRUE(Handshake(*a_).ok());
    ASSERT_TRUE(Handshake(*b_).ok());
  }
  // a makes a collective and four experiences, pushes them (hub log 1..5) and pulls to
  // the head, so that only b's acknowledgements hold compaction back.
  void FiveChangesAndACaughtUp() {
    const std::string c = a_->CreateCollective(MakeCollective())->id;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
    pb::PushResponse pushed;
    ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
    pb::PullResponse pulled;
    ASSERT_TRUE(Pull(*a_, 5, 10, &pulled).ok());
  }
  // A peer that only shook hands (no store): its id. Distinct peers, for tests holding
  // more streams than one peer may (peer_max_streams).
  std::string HandshakenPeer() {
    pb::HandshakeRequest hello;
    hello.set_instance_id(storage::NewUuidV7());
    hello.set_protocol_version(1);
    pb::HandshakeResponse welcome;
    EXPECT_TRUE(stub().Handshake(Deadline().get(), hello, &welcome).ok());
    return hello.instance_id();
  }
  std::unique_ptr<storage::Store> a_, b_;
};

std::string Trailer(const grpc::ClientContext& context, const std::string& key) {
  auto range = context.GetServerTrailingMetadata().equal_range(key);
  if (range.first == range.second) return "";
  return std::string(range.first->second.data(), range.first->second.size());
}

// ----- Handshake

TEST_F(HubTest, HandshakeReportsIdentityLimitsAndLogPosition) {
  pb::HandshakeResponse response;
  ASSERT_TRUE(Handshake(*a_, &response).ok());
  EXPECT_TRUE(response.accepted());
  EXPECT_EQ(response.instance_id(), hub().instance_id());
  EXPECT_EQ(response.protocol_version(), 1u);
  EXPECT_EQ(response.limits().max_batch_size(), hub_options().max_batch_size);
  EXPECT_EQ(response.limits().max_message_bytes(), hub_options().max_message_bytes);
  EXPECT_EQ(response.oldest_sequence(), 1u);
  EXPECT_EQ(response.head_sequence(), 0u);
}

TEST_F(HubTest, WrongProtocolVersionIsNotAcceptedAndTheReasonNamesBothVersions) {
  pb::HandshakeRequest request;
  request.set_instance_id(a_->instance_id());
  request.set_protocol_version(7);
  pb::HandshakeResponse response;
  ASSERT_TRUE(stub().Handshake(Deadline().get(), request, &response).ok());
  EXPECT_FALSE(response.accepted());
  EXPECT_TRUE(absl::StrContains(response.reason(), "1")) << response.reason();
  EXPECT_TRUE(absl::StrContains(response.reason(), "7")) << response.reason();
  EXPECT_LE(response.reason().size(), 256u);
}

TEST_F(HubTest, MalformedHandshakesAreInvalidArgument) {
  pb::HandshakeRequest request;
  request.set_protocol_version(1);
  request.set_instance_id("short");
  pb::HandshakeResponse response;
  EXPECT_EQ(stub().Handshake(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_instance_id(a_->instance_id());
  for (int i = 0; i < 9; ++i) request.add_capabilities("c" + std::to_string(i));
  EXPECT_EQ(stub().Handshake(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_capabilities();
  request.add_capabilities(std::string(65, 'x'));
  EXPECT_EQ(stub().Handshake(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_capabilities();
  request.set_instance_id(hub().instance_id());
  EXPECT_EQ(stub().Handshake(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// ----- Relay

TEST_F(HubTest, ChangeFromAReachesBOnceAndNeverEchoesToA) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  const std::string e = a_->CreateExperience(MakeExperience(c))->id;
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  EXPECT_EQ(pushed.accepted(), 2u);
  EXPECT_EQ(pushed.rejected(), 0u);
  EXPECT_EQ(pushed.safe_through(), 2u);
  EXPECT_EQ(pushed.new_cursor().last_sequence(), 2u);
  EXPECT_EQ(pushed.responder_instance(), hub().instance_id());

  EXPECT_EQ(PullAndApply(*b_), 2);
  EXPECT_TRUE(b_->GetExperience(e).ok());
  EXPECT_EQ(PullAndApply(*b_), 0);  // nothing twice

  pb::PullResponse to_a;
  ASSERT_TRUE(Pull(*a_, 0, 100, &to_a).ok());
  EXPECT_EQ(to_a.changes_size(), 0);  // never back to its origin
  EXPECT_EQ(to_a.new_cursor().last_sequence(), 2u);
  EXPECT_FALSE(to_a.has_more());
}

// Protobuf keeps a field it does not know, whatever its wire type; a newer or odd
// sender's change may carry one as a group. The hub stores such a change with the field
// (a newer peer may need it) and must still read its own log past it: every Pull,
// Subscribe, snapshot and compaction reads each entry's header (storage/change_header.h).
TEST_F(HubTest, AChangeCarryingAnUnknownGroupIsRelayedAndTheLogReadsOnPastIt) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  const std::string e = a_->CreateExperience(MakeExperience(c))->id;
  pb::PushRequest request = OwnChangesRequest(*a_, 0);
  ASSERT_EQ(request.changes_size(), 2);
  pb::SyncChange& odd = *request.mutable_changes(1);
  odd.GetReflection()->MutableUnknownFields(&odd)->AddGroup(99)->AddVarint(1, 5);
  pb::PushResponse pushed;
  ASSERT_TRUE(stub().Push(Deadline().get(), request, &pushed).ok());
  EXPECT_EQ(pushed.accepted(), 2u);
  const std::string e2 = a_->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(PushOwn(*a_, 2, &pushed).ok());

  EXPECT_EQ(PullAndApply(*b_), 3);  // past the odd change to the one after it
  EXPECT_TRUE(b_->GetExperience(e).ok());
  EXPECT_TRUE(b_->GetExperience(e2).ok());
  pb::PullResponse relayed;
  ASSERT_TRUE(Pull(*b_, 0, 100, &relayed).ok());
  ASSERT_EQ(relayed.changes_size(), 3);
  EXPECT_EQ(relayed.changes(1).GetReflection()->GetUnknownFields(relayed.changes(1)).field_count(),
            1);
  // Both logs, the hub's and b's (which stored it as b received it), read on past it.
  for (storage::Store* store : {&hub().context().store(), b_.get()}) {
    storage::ScanRequest scan;
    scan.max_changes = 100;
    std::string wire;
    absl::StatusOr<storage::ScanResult> read = store->log().ScanWire(scan, &wire);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->appended, 3u);
    EXPECT_TRUE(store->OpenSnapshot({}).ok());
  }
  EXPECT_TRUE(hub().context().store().CompactWal().ok());
}

TEST_F(HubTest, ChangesKeepTheirOriginIdentityThroughTheRelay) {
  ASSERT_TRUE(a_->CreateCollective(MakeCollective()).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullResponse pulled;
  ASSERT_TRUE(Pull(*b_, 0, 10, &pulled).ok());
  ASSERT_EQ(pulled.changes_size(), 1);
  EXPECT_EQ(pulled.changes(0).source_instance(), a_->instance_id());
  EXPECT_EQ(pulled.changes(0).sequence(), 1u);
  EXPECT_EQ(pulled.changes(0).log_sequence(), 1u);
}

// ----- Pull cursors and filters

TEST_F(HubTest, HasMoreIsExactAndTheCursorPassesFilteredEntries) {
  const std::string c1 = a_->CreateCollective(MakeCollective("one"))->id;
  const std::string c2 = a_->CreateCollective(MakeCollective("two"))->id;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c1)).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c2)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());  // hub log: 1 c1, 2 c2, 3-5 in c1, 6-8 in c2

  pb::PullResponse page;
  ASSERT_TRUE(Pull(*b_, 0, 2, &page, {c1}).ok());
  ASSERT_EQ(page.changes_size(), 2);  // 1 and 3; 4 is next and matches
  EXPECT_EQ(page.new_cursor().last_sequence(), 3u);
  EXPECT_TRUE(page.has_more());
  ASSERT_TRUE(Pull(*b_, 3, 2, &page, {c1}).ok());
  ASSERT_EQ(page.changes_size(), 2);                 // 4 and 5
  EXPECT_EQ(page.new_cursor().last_sequence(), 8u);  // 6..8 examined and filtered out
  EXPECT_FALSE(page.has_more());
  ASSERT_TRUE(Pull(*b_, 5, 4, &page, {c1}).ok());
  EXPECT_EQ(page.changes_size(), 0);
  EXPECT_EQ(page.new_cursor().last_sequence(), 8u);  // an entirely filtered page advances
  EXPECT_FALSE(page.has_more());

  ASSERT_TRUE(Pull(*b_, 0, 8, &page).ok());
  EXPECT_EQ(page.changes_size(), 8);
  EXPECT_FALSE(page.has_more());  // exactly the rest: no phantom "more"
}

TEST_F(HubTest, PagesReadAheadAreExactEvenWhenTheLogGrowsBetweenPulls) {
  // b pages through the log while a keeps pushing. The hub scans each next page ahead
  // (pull_read_ahead.h); what b gets must be what a fresh scan gives: no gap, no repeat,
  // and a page that had reached the end must not hide what was pushed since.
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 24; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());  // hub log: 1..25
  server::PullReadAhead& ahead = hub().context().read_ahead();
  pb::PullResponse page;
  ASSERT_TRUE(Pull(*b_, 0, 10, &page).ok());
  ASSERT_EQ(page.changes_size(), 10);
  ASSERT_TRUE(testing::Eventually([&] { return ahead.held_bytes() > 0; }));  // 11..20
  ASSERT_TRUE(Pull(*b_, 10, 10, &page).ok());
  ASSERT_EQ(page.changes_size(), 10);
  EXPECT_EQ(page.changes(0).log_sequence(), 11u);
  EXPECT_EQ(page.new_cursor().last_sequence(), 20u);
  EXPECT_TRUE(page.has_more());
  EXPECT_EQ(hub().context().metrics().pull_pages_read_ahead(), 1u);          // that page was
  ASSERT_TRUE(testing::Eventually([&] { return ahead.held_bytes() > 0; }));  // 21..25, the end
  const uint64_t a_mark = a_->log().Head();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(PushOwn(*a_, a_mark, &pushed).ok());  // hub log: 26..30
  ASSERT_TRUE(Pull(*b_, 20, 10, &page).ok());
  ASSERT_EQ(page.changes_size(), 10);  // not the 5 read ahead before the push
  for (int i = 0; i < 10; ++i) EXPECT_EQ(page.changes(i).log_sequence(), 21u + i);
  EXPECT_EQ(page.new_cursor().last_sequence(), 30u);
  EXPECT_FALSE(page.has_more());
  EXPECT_EQ(hub().context().metrics().pull_pages_read_ahead(), 1u);  // this one was not
}

TEST_F(HubTest, EntityTypeFilter) {
  ASSERT_TRUE(a_->CreateCollective(MakeCollective()).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullRequest request;
  request.set_source_instance(b_->instance_id());
  request.add_entity_types(pb::SYNC_ENTITY_TYPE_EXPERIENCE);
  pb::PullResponse response;
  ASSERT_TRUE(stub().Pull(Deadline().get(), request, &response).ok());
  EXPECT_EQ(response.changes_size(), 0);
  EXPECT_EQ(response.new_cursor().last_sequence(), 1u);
}

TEST_F(HubTest, PullRegistersTheServedCursorEvenWhenEmpty) {
  pb::PullResponse response;
  ASSERT_TRUE(Pull(*b_, 0, 10, &response).ok());
  absl::StatusOr<std::optional<uint64_t>> served =
      hub().context().store().GetCursor(b_->instance_id(), storage::CursorKind::kServed);
  ASSERT_TRUE(served.ok());
  EXPECT_TRUE(served->has_value());
}

// ----- Exactly once

TEST_F(HubTest, ReplayedPushIsAcknowledgedAsDuplicatesAndNotAppliedTwice) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushRequest request = OwnChangesRequest(*a_, 0);
  pb::PushResponse first, replay;
  ASSERT_TRUE(stub().Push(Deadline().get(), request, &first).ok());
  const uint64_t head = hub().context().store().log().Head();
  ASSERT_TRUE(stub().Push(Deadline().get(), request, &replay).ok());
  EXPECT_EQ(replay.duplicates(), 2u);
  EXPECT_EQ(replay.accepted(), 2u);
  EXPECT_EQ(replay.new_cursor().last_sequence(), 2u);
  EXPECT_EQ(hub().context().store().log().Head(), head);
}

TEST_F(HubTest, AFailedChangeStopsTheBatchAndSafeThroughNeverPassesIt) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  const std::string e = a_->CreateExperience(MakeExperience(c))->id;
  pb::ExperienceUpdate u;
  u.set_importance(0.3f);
  ASSERT_TRUE(a_->UpdateExperience(e, u).ok());
  ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushRequest request = OwnChangesRequest(*a_, 0);
  request.mutable_changes()->DeleteSubrange(1, 1);  // the create is lost on the way: 1, 3, 4
  pb::PushResponse response;
  ASSERT_TRUE(stub().Push(Deadline().get(), request, &response).ok());
  EXPECT_EQ(response.accepted(), 1u);
  EXPECT_EQ(response.rejected(), 2u);
  EXPECT_EQ(response.safe_through(), 1u);
  EXPECT_EQ(response.first_failure().sequence(), 3u);
  EXPECT_TRUE(absl::StrContains(response.first_failure().reason(), "not found"));
  EXPECT_EQ(response.new_cursor().last_sequence(), 1u);
  // Resending from the cursor with everything fixes it.
  ASSERT_TRUE(PushOwn(*a_, 1, &response).ok());
  EXPECT_EQ(response.rejected(), 0u);
  EXPECT_EQ(response.new_cursor().last_sequence(), 4u);
}

// ----- Bad input (the full table is tests/bad_input_test.cc)

class BadPushTest : public HubTest {
 protected:
  void SetUp() override {
    HubTest::SetUp();
    const std::string c = a_->CreateCollective(MakeCollective())->id;
    ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
    ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
    good_ = OwnChangesRequest(*a_, 0);
    before_ = *hub().context().store().RawDump();
  }
  void ExpectRefused(const pb::PushRequest& request, grpc::StatusCode code,
                     const std::string& mentions) {
    pb::PushResponse response;
    grpc::Status status = stub().Push(Deadline().get(), request, &response);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), mentions)) << status.error_message();
    EXPECT_EQ(*hub().context().store().RawDump(), before_) << "a refused push changed the hub";
  }
  pb::PushRequest good_;
  std::string before_;
};

TEST_F(BadPushTest, AddressedToAnotherHubIsPeerChangedAndNamesTheResponder) {
  pb::PushRequest r = good_;
  r.set_target_instance(storage::NewUuidV7());
  pb::PushResponse response;
  auto context = Deadline();
  grpc::Status status = stub().Push(context.get(), r, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "peer changed"));
  EXPECT_EQ(Trailer(*context, "pulsedb-responder-bin"), hub().instance_id());
  EXPECT_EQ(*hub().context().store().RawDump(), before_);
}

TEST_F(HubTest, BadPullRequests) {
  pb::PullRequest request;
  request.set_source_instance(b_->instance_id());
  request.add_collectives("short");
  pb::PullResponse response;
  EXPECT_EQ(stub().Pull(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_collectives();
  request.add_entity_types(static_cast<pb::SyncEntityType>(99));
  EXPECT_EQ(stub().Pull(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_entity_types();
  request.set_max_reply_bytes(100);
  EXPECT_EQ(stub().Pull(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_max_reply_bytes(0);
  request.mutable_cursor()->set_instance_id(storage::NewUuidV7());
  EXPECT_EQ(stub().Pull(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  request.clear_cursor();
  request.set_source_instance(storage::NewUuidV7());
  EXPECT_EQ(stub().Pull(Deadline().get(), request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // unknown peer
}

TEST_F(HubTest, AChangeLargerThanTheReplyBudgetIsResourceExhaustedWithItsSequence) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  pb::Experience big = MakeExperience(c);
  big.set_content(std::string(3000, 'y'));
  ASSERT_TRUE(a_->CreateExperience(big).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullRequest request;
  request.set_source_instance(b_->instance_id());
  request.set_max_reply_bytes(2048);
  pb::PullResponse response;
  ASSERT_TRUE(stub().Pull(Deadline().get(), request, &response).ok());
  EXPECT_EQ(response.changes_size(), 1);  // the collective fits
  EXPECT_EQ(response.new_cursor().last_sequence(), 1u);
  request.mutable_cursor()->set_last_sequence(1);
  auto context = Deadline();
  grpc::Status status = stub().Pull(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(Trailer(*context, "pulsedb-change-too-large"), "2,"));
}

// ----- Subscribe

TEST_F(HubTest, SubscribeDeliversACatchUpThenAChangePushedAfterItOpened) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());

  pb::SubscribeRequest request;
  request.set_source_instance(b_->instance_id());
  request.set_target_instance(hub().instance_id());
  auto context = Deadline();
  std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>> reader =
      stub().Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_EQ(event.changes_size(), 1);  // catch-up
  EXPECT_EQ(event.cursor().last_sequence(), 1u);

  const std::string e = a_->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(PushOwn(*a_, 1, &pushed).ok());
  // Skip heartbeats until the live change arrives.
  bool seen = false;
  while (!seen && reader->Read(&event)) {
    for (const pb::SyncChange& change : event.changes()) {
      seen = change.payload().experience_created().id() == e;
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(event.cursor().last_sequence(), 2u);
  context->TryCancel();
  reader->Finish();
}

TEST_F(HubTest, SubscribeSendsHeartbeatsWhenIdleAndNeverEchoes) {
  ASSERT_TRUE(a_->CreateCollective(MakeCollective()).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::SubscribeRequest request;
  request.set_source_instance(a_->instance_id());  // the origin itself
  request.set_heartbeat_interval_ms(100);
  auto context = Deadline();
  auto reader = stub().Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.changes_size(), 0);
    EXPECT_EQ(event.responder_instance(), hub().instance_id());
  }
  EXPECT_EQ(event.cursor().last_sequence(), 1u);  // the filtered entry is passed
  context->TryCancel();
  reader->Finish();
}

TEST_F(HubTest, ManySubscribersAtOnce) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  constexpr int kSubscribers = 50;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>>> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    pb::SubscribeRequest request;
    request.set_source_instance(HandshakenPeer());
    contexts.push_back(Deadline());
    readers.push_back(stub().Subscribe(contexts.back().get(), request));
  }
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  for (auto& reader : readers) {
    pb::SubscribeEvent event;
    bool got = false;
    while (!got && reader->Read(&event)) got = event.changes_size() == 1;
    EXPECT_TRUE(got);
  }
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader->Finish();
}

// A commit wakes every subscriber at the head; they all read the same new entries, and
// the hub scans them once (shared_pages.h).
TEST_F(HubTest, ACommitWakesEverySubscriberAtTheHeadForOneScan) {
  StopHub();
  hub_options().shared_pages_together = absl::Minutes(1);  // however slow this machine
  StartHub();
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  constexpr int kSubscribers = 8;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>>> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    pb::SubscribeRequest request;
    request.set_source_instance(HandshakenPeer());
    request.mutable_cursor()->set_last_sequence(1);  // at the head
    request.set_heartbeat_interval_ms(600000);       // no heartbeat scans meanwhile
    contexts.push_back(Deadline());
    readers.push_back(stub().Subscribe(contexts.back().get(), request));
    pb::SubscribeEvent first;  // says the stream is live
    ASSERT_TRUE(readers.back()->Read(&first));
    ASSERT_EQ(first.changes_size(), 0);
  }
  const server::SharedPages& pages = hub().context().pages();
  const uint64_t scans_before = pages.scans();
  const uint64_t hits_before = pages.hits();
  const std::string e = a_->CreateExperience(MakeExperience(c))->id;
  ASSERT_TRUE(PushOwn(*a_, 1, &pushed).ok());
  for (auto& reader : readers) {
    pb::SubscribeEvent event;
    ASSERT_TRUE(reader->Read(&event));
    ASSERT_EQ(event.changes_size(), 1);
    EXPECT_EQ(event.changes(0).payload().experience_created().id(), e);
  }
  EXPECT_EQ(pages.scans() - scans_before, 1u);
  EXPECT_EQ(pages.hits() - hits_before, static_cast<uint64_t>(kSubscribers - 1));
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader->Finish();
}

// Found by the chaos test under ASan: a peer restarted after an event was delivered but
// before it was applied; the hub had counted the delivery as acknowledged, compacted past
// it (tombstones included), and the peer could never learn of a delete in it.
TEST_F(HubTest, DeliveryIsNotAcknowledgementOnlyAnAcknowledgingPullIs) {
  FiveChangesAndACaughtUp();
  pb::PullResponse pulled;
  pb::SubscribeRequest request;
  request.set_source_instance(b_->instance_id());
  auto context = Deadline();
  auto reader = stub().Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  int delivered = 0;
  while (delivered < 5 && reader->Read(&event)) delivered += event.changes_size();
  ASSERT_EQ(delivered, 5);
  ASSERT_EQ(*hub().CompactNow(), 0u);  // b received everything but applied nothing yet
  pb::PullRequest ack;
  ack.set_source_instance(b_->instance_id());
  ack.mutable_cursor()->set_last_sequence(3);
  ack.set_acknowledge_only(true);
  ASSERT_TRUE(stub().Pull(Deadline().get(), ack, &pulled).ok());
  EXPECT_EQ(pulled.changes_size(), 0);
  EXPECT_EQ(pulled.head_sequence(), 5u);
  EXPECT_EQ(*hub().CompactNow(), 3u);
  ack.mutable_cursor()->set_last_sequence(99);
  EXPECT_EQ(stub().Pull(Deadline().get(), ack, &pulled).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  context->TryCancel();
  reader->Finish();
}

// A peer that fetches page n+1 while it applies page n pages from a cursor ahead of what
// it has applied: the hub must keep what it has not applied.
TEST_F(HubTest, APullAheadRegistersWhatThePeerAppliedNotWhereItPagesFrom) {
  FiveChangesAndACaughtUp();
  pb::PullResponse pulled;
  pb::PullRequest ahead;
  ahead.set_source_instance(b_->instance_id());
  ahead.mutable_cursor()->set_last_sequence(4);
  ahead.set_applied_through(2);
  ASSERT_TRUE(stub().Pull(Deadline().get(), ahead, &pulled).ok());
  EXPECT_EQ(pulled.changes_size(), 1);  // the page after the cursor
  EXPECT_EQ(**hub().context().store().GetCursor(b_->instance_id(), storage::CursorKind::kServed),
            2u);
  EXPECT_EQ(*hub().CompactNow(), 2u);  // not 4: b has applied only through 2
  // Having applied more than it pulled is a bug in the peer.
  ahead.set_applied_through(5);
  EXPECT_EQ(stub().Pull(Deadline().get(), ahead, &pulled).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ahead.set_acknowledge_only(true);
  EXPECT_EQ(stub().Pull(Deadline().get(), ahead, &pulled).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// The hub frames a Pull reply's cursor before its changes, so that a peer can ask for
// the next page before parsing this one (client/pull_reply_head.h).
TEST_F(HubTest, APullReplyCarriesItsCursorBeforeItsChanges) {
  FiveChangesAndACaughtUp();
  grpc::TemplatedGenericStub<pb::PullRequest, grpc::ByteBuffer> generic(channel());
  pb::PullRequest request;
  request.set_source_instance(b_->instance_id());
  request.mutable_cursor()->set_last_sequence(1);
  request.set_batch_size(2);
  auto context = Deadline();
  grpc::ByteBuffer reply;
  absl::Notification done;
  grpc::Status status;
  generic.UnaryCall(context.get(), "/pulsedb.sync.v1.SyncService/Pull", grpc::StubOptions(),
                    &request, &reply, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::optional<client::PullReplyHead> head = client::PeekPullReplyHead(reply);
  ASSERT_TRUE(head.has_value());
  EXPECT_TRUE(head->has_more);
  EXPECT_EQ(head->new_cursor, 3u);
  EXPECT_EQ(head->head_sequence, 5u);
  EXPECT_EQ(head->responder_instance, hub().context().hub_id());
  // The same bytes are one PullResponse to any protobuf parser.
  grpc::ProtoBufferReader reader(&reply);
  pb::PullResponse parsed;
  ASSERT_TRUE(parsed.ParseFromZeroCopyStream(&reader));
  EXPECT_EQ(parsed.changes_size(), 2);
  EXPECT_EQ(parsed.new_cursor().last_sequence(), 3u);
  EXPECT_TRUE(parsed.has_more());
}

// Pages are built in buffers reused from pages already sent (server/wire_buffer_pool.h):
// a page must hold its own changes only, whatever page its buffer held before.
TEST_F(HubTest, PagesBuiltInReusedBuffersHoldOnlyTheirOwnChanges) {
  // Pages kept to be shared stay out of the buffer pool: keep none here.
  StopHub();
  hub_options().shared_pages_bytes = 0;
  StartHub();
  const std::string c = a_->CreateCollective(MakeCollective("big", 384))->id;
  for (int i = 0; i < 60; ++i) {
    // About 3.5 KB a change: a page of 40 is well over the pool's 64 KiB floor.
    ASSERT_TRUE(a_->CreateExperience(MakeExperience(c, std::string(2000, 'w'), 384)).ok());
  }
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  ASSERT_EQ(pushed.accepted(), 61u);
  for (int round = 0; round < 4; ++round) {
    pb::PullResponse big;
    ASSERT_TRUE(Pull(*b_, 0, 40, &big).ok());
    ASSERT_EQ(big.changes_size(), 40);
    // The big page's buffer goes back to the pool once gRPC has sent it.
    ASSERT_TRUE(
        testing::Eventually([] { return server::WireBufferPool::Shared().held_buffers() > 0; }));
    pb::PullResponse small;
    ASSERT_TRUE(Pull(*b_, 40 + round, 3, &small).ok());
    ASSERT_EQ(small.changes_size(), 3) << "round " << round;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(small.changes(i).log_sequence(), static_cast<uint64_t>(41 + round + i));
    }
    EXPECT_EQ(small.new_cursor().last_sequence(), static_cast<uint64_t>(43 + round));
  }
}

// Pages of the log are shared by the peers that read the same entries (shared_pages.h),
// but never with a peer whose own changes are among them: Pull stays echo-free.
TEST_F(HubTest, ASharedPageNeverBringsAPeerItsOwnChanges) {
  StopHub();
  hub_options().shared_pages_together = absl::Minutes(1);  // however slow this machine
  StartHub();
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());  // hub log 1..5, all a's
  ASSERT_EQ(PullAndApply(*b_), 5);
  ASSERT_TRUE(b_->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(PushOwn(*b_, b_->log().Head() - 1, &pushed).ok());  // hub log 6: b's
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(PushOwn(*a_, 5, &pushed).ok());  // hub log 7..9: a's
  auto c_peer = NewPeerStore("c");
  ASSERT_TRUE(Handshake(*c_peer).ok());
  const server::SharedPages& pages = hub().context().pages();
  const uint64_t hits_before = pages.hits();

  // c's page (9 entries, b's among them) is kept; b reads the same entries but gets its
  // own page, without its change; a (whose changes it holds) is not served it either.
  pb::PullResponse at_head, for_c, for_b, for_a, for_c_again;
  ASSERT_TRUE(Pull(*b_, 9, 20, &at_head).ok());  // peers read together: pages are kept
  ASSERT_TRUE(Pull(*c_peer, 0, 20, &for_c).ok());
  EXPECT_EQ(for_c.changes_size(), 9);
  ASSERT_TRUE(Pull(*b_, 0, 20, &for_b).ok());
  ASSERT_EQ(for_b.changes_size(), 8);
  for (const pb::SyncChange& change : for_b.changes()) {
    EXPECT_NE(change.source_instance(), b_->instance_id());
  }
  EXPECT_EQ(for_b.new_cursor().last_sequence(), 9u);
  ASSERT_TRUE(Pull(*a_, 0, 20, &for_a).ok());
  EXPECT_EQ(for_a.changes_size(), 1);  // only b's
  EXPECT_EQ(pages.hits(), hits_before);
  // The page c got is still exact: served again from what was kept.
  ASSERT_TRUE(Pull(*c_peer, 0, 20, &for_c_again).ok());
  EXPECT_EQ(pages.hits(), hits_before + 1);
  EXPECT_EQ(for_c_again.SerializeAsString(), for_c.SerializeAsString());
}

TEST_F(HubTest, SubscribeFromACompactedCursorIsFailedPrecondition) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullResponse pulled;
  ASSERT_TRUE(Pull(*b_, 4, 10, &pulled).ok());
  ASSERT_TRUE(Pull(*a_, 6, 10, &pulled).ok());
  ASSERT_EQ(*hub().CompactNow(), 4u);
  pb::SubscribeRequest request;
  request.set_source_instance(b_->instance_id());
  request.mutable_cursor()->set_last_sequence(2);
  auto context = Deadline();
  auto reader = stub().Subscribe(context.get(), request);
  pb::SubscribeEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Trailer(*context, "pulsedb-oldest-retained"), "5");
}

// ----- Compaction and Snapshot

TEST_F(HubTest, ACompactedCursorIsFailedPreconditionNamingTheOldestRetainedSequence) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullResponse pulled;
  ASSERT_TRUE(Pull(*b_, 3, 10, &pulled).ok());  // b acknowledges 3
  ASSERT_TRUE(Pull(*a_, 6, 10, &pulled).ok());
  ASSERT_EQ(*hub().CompactNow(), 3u);
  auto c2 = NewPeerStore("c");
  ASSERT_TRUE(Handshake(*c2).ok());
  pb::PullRequest request;
  request.set_source_instance(c2->instance_id());
  auto context = Deadline();
  grpc::Status status = stub().Pull(context.get(), request, &pulled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "oldest retained sequence is 4"));
  EXPECT_EQ(Trailer(*context, "pulsedb-oldest-retained"), "4");
}

TEST_F(HubTest, SnapshotThenResumeEqualsAFullPull) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(a_->CreateExperience(MakeExperience(c))->id);
  ASSERT_TRUE(a_->DeleteExperience(ids[3]).ok());
  ASSERT_TRUE(a_->CreateRelation(testing::MakeRelation(ids[0], ids[1])).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  const uint64_t mark = a_->log().Head();

  // Peer c catches up by Snapshot...
  auto c_store = NewPeerStore("c");
  ASSERT_TRUE(Handshake(*c_store).ok());
  pb::SnapshotRequest request;
  request.set_source_instance(c_store->instance_id());
  request.set_target_instance(hub().instance_id());
  request.set_max_reply_bytes(1024);  // several chunks
  auto context = Deadline();
  auto reader = stub().Snapshot(context.get(), request);
  pb::SnapshotChunk chunk;
  int chunks = 0;
  uint64_t sequence = 0;
  storage::ApplyContext follower;
  while (reader->Read(&chunk)) {
    ++chunks;
    EXPECT_EQ(chunk.responder_instance(), hub().instance_id());
    ASSERT_TRUE(c_store->ApplySnapshotChunk(chunk, follower, hub().instance_id()).ok());
    if (chunk.done()) sequence = chunk.sequence();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(chunks, 2);
  EXPECT_EQ(sequence, hub().context().store().log().Head());

  // ... then more changes happen and it resumes pulling from the snapshot's sequence.
  ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
  ASSERT_TRUE(PushOwn(*a_, mark, &pushed).ok());
  PullAndApply(*c_store);
  // b does a full pull from zero.
  PullAndApply(*b_);
  EXPECT_EQ(*c_store->CanonicalDump(), *b_->CanonicalDump());
  EXPECT_EQ(*c_store->CanonicalDump(), *hub().context().store().CanonicalDump());
}

// With a large budget the hub still cuts chunks at kSnapshotChunkBytes (so that it reads
// ahead while the peer applies), and an entity larger than that goes alone.
TEST_F(HubTest, SnapshotChunksAreCutSmallAndAnEntityLargerThanAChunkStillGoes) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  pb::Experience big = MakeExperience(c, std::string(server::kSnapshotChunkBytes + 1000, 'x'));
  ASSERT_TRUE(a_->CreateExperience(big).ok());
  // Then about three chunks' worth of ordinary ones (64 KiB of content each).
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(a_->CreateExperience(MakeExperience(c, std::string(64 << 10, 'y'))).ok());
  }
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());

  auto c_store = NewPeerStore("c");
  ASSERT_TRUE(Handshake(*c_store).ok());
  pb::SnapshotRequest request;
  request.set_source_instance(c_store->instance_id());
  request.set_max_reply_bytes(64 << 20);
  auto context = Deadline();
  auto reader = stub().Snapshot(context.get(), request);
  pb::SnapshotChunk chunk;
  int chunks = 0;
  int entities = 0;
  bool saw_big = false;
  storage::ApplyContext follower;
  while (reader->Read(&chunk)) {
    ++chunks;
    entities += chunk.entities_size();
    bool has_big = false;
    for (const pb::VersionedEntity& e : chunk.entities()) {
      has_big = has_big || e.experience().content().size() > server::kSnapshotChunkBytes;
    }
    saw_big = saw_big || has_big;
    if (has_big) {
      EXPECT_EQ(chunk.entities_size(), 1);  // alone, and the next chunks small again
    } else {
      EXPECT_LE(chunk.ByteSizeLong(), server::kSnapshotChunkBytes + 1024);
    }
    ASSERT_TRUE(c_store->ApplySnapshotChunk(chunk, follower, hub().instance_id()).ok());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(saw_big);
  EXPECT_EQ(entities, 152);  // the collective, the big one, 150 more
  EXPECT_GE(chunks, 4);
  EXPECT_EQ(*c_store->CanonicalDump(), *hub().context().store().CanonicalDump());
}

// ----- Restart

TEST_F(HubTest, HubRestartInTheMiddleOfPushesLosesNothingAndDuplicatesNothing) {
  const std::string c = a_->CreateCollective(MakeCollective())->id;
  uint64_t acknowledged = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(a_->CreateExperience(MakeExperience(c)).ok());
    pb::PushRequest request = OwnChangesRequest(*a_, acknowledged);
    pb::PushResponse response;
    ASSERT_TRUE(stub().Push(Deadline().get(), request, &response).ok());
    acknowledged = response.new_cursor().last_sequence();
    if (round % 2 == 1) {
      StopHub();
      StartHub();
      // The same batch again, as a peer would after losing the reply: all duplicates.
      ASSERT_TRUE(stub().Push(Deadline().get(), request, &response).ok());
      EXPECT_EQ(response.duplicates(), static_cast<uint32_t>(request.changes_size()));
    }
  }
  EXPECT_EQ(acknowledged, a_->log().Head());
  EXPECT_EQ(hub().context().store().log().Head(), a_->log().Head());
  EXPECT_EQ(*hub().context().store().CanonicalDump(), *a_->CanonicalDump());
}

// ----- Standard services

TEST_F(HubTest, ASecondHubOnTheSameAddressIsRefused) {
  server::HubOptions second = hub_options();
  second.listen_address = hub().address();
  second.data_dir = dir_.Sub("second");
  second.metrics_listen_address = "";
  absl::StatusOr<std::unique_ptr<server::Hub>> refused = server::Hub::Start(second);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

TEST_F(HubTest, APushConcurrencyOutOfRangeIsRefusedAtStart) {
  for (const int concurrency : {-1, 257}) {
    server::HubOptions options = hub_options();
    options.listen_address = "127.0.0.1:0";
    options.data_dir = dir_.Sub(absl::StrCat("concurrency", concurrency));
    options.metrics_listen_address = "";
    options.push_concurrency = concurrency;
    absl::StatusOr<std::unique_ptr<server::Hub>> refused = server::Hub::Start(options);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "push concurrency"))
        << refused.status();
  }
}

TEST_F(HubTest, HealthServiceReportsServing) {
  grpc::GenericStub generic(channel());
  // grpc.health.v1.HealthCheckRequest{service=""} is an empty message.
  grpc::ByteBuffer request_buffer;
  grpc::Slice empty("");
  request_buffer = grpc::ByteBuffer(&empty, 1);
  auto context = Deadline();
  grpc::CompletionQueue cq;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      generic.PrepareUnaryCall(context.get(), "/grpc.health.v1.Health/Check", request_buffer, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
  cq.Shutdown();
}

TEST_F(HubTest, ServerReflectionListsTheSyncService) {
  // A raw ServerReflectionInfo call (grpc.reflection.v1alpha), as generic tools make it:
  // ServerReflectionRequest{list_services: ""} is field 7, an empty string.
  grpc::GenericStub generic(channel());
  grpc::CompletionQueue cq;
  auto context = Deadline();
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = generic.PrepareCall(
      context.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](intptr_t expected) {
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    EXPECT_TRUE(ok);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  grpc::Slice request_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_TRUE(absl::StrContains(bytes, "pulsedb.sync.v1.SyncService"));
  EXPECT_TRUE(absl::StrContains(bytes, "pulsedb.sync.v1.SyncAdmin"));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(HubTest, AdminStatusListsPeersWithCursorsAndLag) {
  ASSERT_TRUE(a_->CreateCollective(MakeCollective()).ok());
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a_, 0, &pushed).ok());
  pb::PullResponse pulled;
  ASSERT_TRUE(Pull(*b_, 0, 10, &pulled).ok());
  pb::HubStatusResponse status;
  ASSERT_TRUE(admin().Status(Deadline().get(), {}, &status).ok());
  EXPECT_EQ(status.instance_id(), hub().instance_id());
  EXPECT_EQ(status.head_sequence(), 1u);
  ASSERT_EQ(status.peers_size(), 2);
  for (const pb::PeerInfo& peer : status.peers()) {
    if (peer.instance_id() == a_->instance_id()) {
      EXPECT_EQ(peer.acknowledged_sequence(), 1u);
    } else {
      EXPECT_EQ(peer.served_cursor(), 0u);
      EXPECT_EQ(peer.lag(), 1u);
    }
  }
}

}  // namespace
}  // namespace pulse
