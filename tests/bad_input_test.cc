// Every kind of malformed or impossible push, sent over real gRPC to a real hub: each
// gets a precise status (code and a message naming what is wrong) and leaves the hub's
// store byte-for-byte unchanged. Refusals reject the whole request before anything is
// applied; changes that are well-formed but cannot apply are reported as rejected.
#include <cmath>
#include <functional>

#include "absl/strings/match.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "server/library_logs.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Deadline;

struct Case {
  const char* name;
  std::function<void(pb::PushRequest&)> mutate;
  grpc::StatusCode code;  // OK: the push is answered, with the change rejected
  const char* mentions;
};

class BadInputTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    // As pulse_hub's main does: protobuf's reason for refusing a message (which string
    // field is not UTF-8) then reaches the status.
    server::RouteLibraryLogs();
    HubFixture::SetUp();
    hub_options().max_batch_size = 50;
    hub_options().max_message_bytes = 256 * 1024;
    StartHub();
    peer_ = NewPeerStore("peer");
    ASSERT_TRUE(Handshake(*peer_).ok());
    // The hub knows the peer's collective and first experience (sequences 1, 2).
    collective_ = peer_->CreateCollective(testing::MakeCollective())->id;
    experience_ = peer_->CreateExperience(testing::MakeExperience(collective_))->id;
    pb::PushResponse pushed;
    ASSERT_TRUE(PushOwn(*peer_, 0, &pushed).ok());
    // A good next batch: two more experiences (3, 4) and a relation between them (5).
    const std::string e3 = peer_->CreateExperience(testing::MakeExperience(collective_))->id;
    const std::string e4 = peer_->CreateExperience(testing::MakeExperience(collective_))->id;
    ASSERT_TRUE(peer_->CreateRelation(testing::MakeRelation(e3, e4)).ok());
    good_ = OwnChangesRequest(*peer_, 2);
    ASSERT_EQ(good_.changes_size(), 3);
  }

  pb::Experience* Created(pb::PushRequest& r, int i) {
    return r.mutable_changes(i)->mutable_payload()->mutable_experience_created();
  }

  std::unique_ptr<storage::Store> peer_;
  std::string collective_, experience_;
  pb::PushRequest good_;
};

TEST_F(BadInputTest, EachMalformedPushGetsAPreciseStatusAndChangesNothing) {
  const std::string other = storage::NewUuidV7();
  const std::vector<Case> cases = {
      {"sender id of 15 bytes",
       [](pb::PushRequest& r) { r.set_source_instance(std::string(15, 'x')); },
       grpc::StatusCode::INVALID_ARGUMENT, "source_instance"},
      {"collective id of 17 bytes",
       [](pb::PushRequest& r) { r.mutable_changes(0)->set_collective_id(std::string(17, 'c')); },
       grpc::StatusCode::INVALID_ARGUMENT, "change 3: collective_id"},
      {"empty experience id", [&](pb::PushRequest& r) { Created(r, 1)->set_id(""); },
       grpc::StatusCode::INVALID_ARGUMENT, "experience.id"},
      {"relation endpoint of 3 bytes",
       [](pb::PushRequest& r) {
         r.mutable_changes(2)->mutable_payload()->mutable_relation_created()->set_source_id("abc");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "relation.source_id"},
      {"unknown entity type",
       [](pb::PushRequest& r) {
         r.mutable_changes(0)->set_entity_type(static_cast<pb::SyncEntityType>(42));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "entity_type"},
      {"entity type disagrees with the payload",
       [](pb::PushRequest& r) {
         r.mutable_changes(0)->set_entity_type(pb::SYNC_ENTITY_TYPE_INSIGHT);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "entity_type"},
      {"unknown relation type",
       [](pb::PushRequest& r) {
         r.mutable_changes(2)->mutable_payload()->mutable_relation_created()->set_relation_type(
             static_cast<pb::RelationType>(99));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "relation_type"},
      {"unknown severity",
       [&](pb::PushRequest& r) {
         Created(r, 0)->mutable_experience_type()->mutable_difficulty()->set_severity(
             static_cast<pb::Severity>(7));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "severity"},
      {"missing payload", [](pb::PushRequest& r) { r.mutable_changes(1)->clear_payload(); },
       grpc::StatusCode::INVALID_ARGUMENT, "change 4: payload"},
      {"missing experience type",
       [&](pb::PushRequest& r) { Created(r, 0)->clear_experience_type(); },
       grpc::StatusCode::INVALID_ARGUMENT, "experience_type"},
      {"NaN importance", [&](pb::PushRequest& r) { Created(r, 0)->set_importance(NAN); },
       grpc::StatusCode::INVALID_ARGUMENT, "importance"},
      {"infinite confidence", [&](pb::PushRequest& r) { Created(r, 0)->set_confidence(INFINITY); },
       grpc::StatusCode::INVALID_ARGUMENT, "confidence"},
      {"NaN in an embedding", [&](pb::PushRequest& r) { Created(r, 1)->set_embedding(3, NAN); },
       grpc::StatusCode::INVALID_ARGUMENT, "embedding"},
      {"embedding longer than the collective's dimension",
       [&](pb::PushRequest& r) { Created(r, 1)->add_embedding(1.0f); },
       grpc::StatusCode::INVALID_ARGUMENT, "change 4"},
      {"negative timestamp", [](pb::PushRequest& r) { r.mutable_changes(0)->set_timestamp(-1); },
       grpc::StatusCode::INVALID_ARGUMENT, "timestamp"},
      {"experience names another collective than its change",
       [&](pb::PushRequest& r) { Created(r, 0)->set_collective_id(other); },
       grpc::StatusCode::INVALID_ARGUMENT, "collective_id"},
      {"a reinforcement bucket twice",
       [&](pb::PushRequest& r) {
         for (int i = 0; i < 2; ++i) {
           pb::ReinforcementBucket* b = Created(r, 0)->add_reinforcement();
           b->set_instance_id(other);
           b->set_count(1);
         }
       },
       grpc::StatusCode::INVALID_ARGUMENT, "appears twice"},
      {"sequence 0", [](pb::PushRequest& r) { r.mutable_changes(0)->set_sequence(0); },
       grpc::StatusCode::INVALID_ARGUMENT, "sequence"},
      {"sequences going backwards",
       [](pb::PushRequest& r) { r.mutable_changes()->SwapElements(0, 2); },
       grpc::StatusCode::INVALID_ARGUMENT, "backwards"},
      {"a sequence twice", [](pb::PushRequest& r) { r.mutable_changes(1)->set_sequence(3); },
       grpc::StatusCode::INVALID_ARGUMENT, "twice"},
      {"a change from another instance",
       [&](pb::PushRequest& r) { r.mutable_changes(1)->set_source_instance(other); },
       grpc::StatusCode::INVALID_ARGUMENT, "change 4"},
      {"an empty batch", [](pb::PushRequest& r) { r.clear_changes(); },
       grpc::StatusCode::INVALID_ARGUMENT, "empty batch"},
      {"more changes than the batch limit",
       [](pb::PushRequest& r) {
         const pb::SyncChange last = r.changes(2);
         for (int i = 0; i < 60; ++i) {
           pb::SyncChange* c = r.add_changes();
           *c = last;
           c->set_sequence(last.sequence() + 1 + i);
         }
       },
       grpc::StatusCode::RESOURCE_EXHAUSTED, "limit of 50"},
      {"a string that is not UTF-8",
       [&](pb::PushRequest& r) { Created(r, 0)->set_content("not UTF-8: \xff"); },
       grpc::StatusCode::INVALID_ARGUMENT, "'pulsedb.sync.v1.Experience.content'"},
      {"a string larger than the message limit",
       [&](pb::PushRequest& r) { Created(r, 0)->set_content(std::string(300 * 1024, 's')); },
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
      {"an experience in an unknown collective",
       [&](pb::PushRequest& r) {
         r.mutable_changes(0)->set_collective_id(other);
         Created(r, 0)->set_collective_id(other);
       },
       grpc::StatusCode::OK, "collective"},
      {"a relation to a missing experience",
       [](pb::PushRequest& r) {
         r.mutable_changes()->DeleteSubrange(0, 2);  // its experiences never arrive
       },
       grpc::StatusCode::OK, "not found"},
      {"an update of an unknown experience",
       [&](pb::PushRequest& r) {
         pb::SyncChange* c = r.mutable_changes(0);
         c->mutable_payload()->clear_experience_created();
         pb::ExperienceUpdated* u = c->mutable_payload()->mutable_experience_updated();
         u->set_id(other);
         u->mutable_update()->set_importance(0.5f);
       },
       grpc::StatusCode::OK, "not found"},
  };
  for (const Case& bad : cases) {
    SCOPED_TRACE(bad.name);
    const std::string before = *hub().context().store().RawDump();
    pb::PushRequest request = good_;
    bad.mutate(request);
    pb::PushResponse response;
    grpc::Status status = stub().Push(Deadline().get(), request, &response);
    EXPECT_EQ(status.error_code(), bad.code) << status.error_message();
    if (bad.code == grpc::StatusCode::OK) {
      EXPECT_GE(response.rejected(), 1u);
      EXPECT_EQ(response.accepted(), 0u);
      EXPECT_TRUE(absl::StrContains(response.first_failure().reason(), bad.mentions))
          << response.first_failure().reason();
    } else {
      EXPECT_TRUE(absl::StrContains(status.error_message(), bad.mentions))
          << status.error_message();
    }
    EXPECT_EQ(*hub().context().store().RawDump(), before) << "the hub changed";
  }
  // And after all that, the good batch still lands: nothing was consumed by the refusals.
  pb::PushResponse landed;
  ASSERT_TRUE(stub().Push(Deadline().get(), good_, &landed).ok());
  EXPECT_EQ(landed.accepted(), 3u);
  EXPECT_EQ(landed.rejected(), 0u);
}

TEST_F(BadInputTest, SequenceGapsAreNormalAndRegressionsAreReplays) {
  // A peer's own changes are interleaved with those it applied from others, so its
  // sequences have gaps: they are accepted.
  pb::PushRequest gap = good_;
  gap.mutable_changes()->DeleteSubrange(1, 2);  // just sequence 3
  pb::PushResponse response;
  ASSERT_TRUE(stub().Push(Deadline().get(), gap, &response).ok());
  EXPECT_EQ(response.accepted(), 1u);
  // Sending 1..2 again (below the mark) is a replay: acknowledged, nothing applied.
  const std::string before = *hub().context().store().RawDump();
  pb::PushRequest old = OwnChangesRequest(*peer_, 0);
  old.mutable_changes()->DeleteSubrange(2, 3);
  ASSERT_TRUE(stub().Push(Deadline().get(), old, &response).ok());
  EXPECT_EQ(response.duplicates(), 2u);
  EXPECT_EQ(*hub().context().store().RawDump(), before);
}

// One call of `method` carrying `bytes` as its only request message, made the way a
// generic tool (or a buggy client) would; returns how the call ended.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes) {
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  auto context = Deadline();
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      generic.PrepareCall(context.get(), method, &cq);
  void* tag;
  bool ok;
  intptr_t next = 1;
  auto step = [&] {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), next);
    ++next;
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(next));
  step();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(next));
  step();
  call->WritesDone(reinterpret_cast<void*>(next));
  step();
  grpc::ByteBuffer response;
  for (;;) {  // a refused call sends no message
    call->Read(&response, reinterpret_cast<void*>(next));
    if (!step()) break;
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(next));
  step();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

TEST_F(BadInputTest, MalformedPullAndSubscribeRequestsAreInvalidArgument) {
  // Pull, Subscribe, Push and PushStream take their requests as bytes and parse them
  // themselves: a message that does not parse is the caller's error, named, and the hub
  // goes on serving.
  // Field 1 says 5 bytes follow; 2 do.
  const std::string truncated = std::string("\x0a\x05") + "ab";
  const std::string bad_tag("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  for (const char* method :
       {"/pulsedb.sync.v1.SyncService/Pull", "/pulsedb.sync.v1.SyncService/Subscribe",
        "/pulsedb.sync.v1.SyncService/Push", "/pulsedb.sync.v1.SyncService/PushStream"}) {
    for (const std::string& bytes : {truncated, bad_tag}) {
      grpc::Status status = RawCall(channel(), method, bytes);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << method << ": " << status.error_message();
      EXPECT_TRUE(absl::StrContains(status.error_message(), "malformed")) << status.error_message();
    }
  }
  // Well-formed requests still work afterwards.
  pb::PullRequest pull;
  pull.set_source_instance(peer_->instance_id());
  pb::PullResponse pulled;
  grpc::Status ok = stub().Pull(Deadline().get(), pull, &pulled);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_GT(pulled.head_sequence(), 0u);
}

}  // namespace
}  // namespace pulse
