// PushStream over real gRPC to a real hub: batches applied in order, each answered with
// the response a Push would get; the stream ends at the first batch that is refused or
// not accepted whole, and nothing after it is applied.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "storage/change_encoding.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Deadline;
using ::pulse::testing::MakeCollective;
using ::pulse::testing::MakeExperience;

class PushStreamTest : public testing::HubFixture {
 protected:
  void SetUp() override {
    HubFixture::SetUp();
    StartHub();
    peer_ = NewPeerStore("peer");
    ASSERT_TRUE(Handshake(*peer_).ok());
  }

  // The peer's own changes after `after`, in requests of the given sizes.
  std::vector<pb::PushRequest> Batches(const std::vector<int>& sizes, uint64_t after = 0) {
    const pb::PushRequest all = OwnChangesRequest(*peer_, after);
    std::vector<pb::PushRequest> out;
    int next = 0;
    for (int size : sizes) {
      pb::PushRequest request;
      request.set_source_instance(all.source_instance());
      request.set_target_instance(all.target_instance());
      for (int i = 0; i < size; ++i) *request.add_changes() = all.changes(next++);
      out.push_back(std::move(request));
    }
    EXPECT_EQ(next, all.changes_size()) << "sizes do not cover the peer's changes";
    return out;
  }

  // Writes every request, half-closes, then reads every response there is.
  grpc::Status Stream(const std::vector<pb::PushRequest>& requests,
                      std::vector<pb::PushResponse>* responses) {
    std::unique_ptr<grpc::ClientContext> context = Deadline();
    auto stream = stub().PushStream(context.get());
    for (const pb::PushRequest& request : requests) {
      if (!stream->Write(request)) break;  // the hub ended the stream
    }
    stream->WritesDone();
    pb::PushResponse response;
    while (stream->Read(&response)) responses->push_back(response);
    return stream->Finish();
  }

  uint64_t HubMark() { return *hub().context().store().OriginMark(peer_->instance_id()); }

  std::unique_ptr<storage::Store> peer_;
};

TEST_F(PushStreamTest, BatchesApplyInOrderEachWithItsResponse) {
  const std::string c = peer_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
  const std::vector<pb::PushRequest> batches = Batches({3, 3, 3, 1});
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream(batches, &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), batches.size());
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const pb::PushRequest& batch = batches[i];
    EXPECT_EQ(responses[i].accepted(), static_cast<uint32_t>(batch.changes_size()));
    EXPECT_EQ(responses[i].rejected(), 0u);
    // Each response acknowledges exactly its own batch: they come in order.
    EXPECT_EQ(responses[i].new_cursor().last_sequence(),
              batch.changes(batch.changes_size() - 1).sequence());
    EXPECT_EQ(responses[i].responder_instance(), hub().instance_id());
  }
  EXPECT_EQ(HubMark(), 10u);
  // The hub's log holds each change once, in the peer's order.
  storage::ScanRequest scan;
  scan.max_changes = 100;
  absl::StatusOr<storage::ScanResult> log = hub().context().store().log().Scan(scan);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->changes.size(), 10u);
  for (std::size_t i = 0; i < log->changes.size(); ++i) {
    EXPECT_EQ(log->changes[i].sequence(), i + 1);
  }
}

// The hub logs a pushed change's bytes as they came, with its log sequence spliced in:
// each entry is byte for byte what serializing the change with that sequence gives,
// whether it came by Push or by PushStream.
TEST_F(PushStreamTest, EachLoggedEntryIsTheChangeSerializedWithItsLogSequence) {
  const std::string c = peer_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
  const std::vector<pb::PushRequest> batches = Batches({2, 2, 2});
  pb::PushResponse unary;
  ASSERT_TRUE(stub().Push(Deadline().get(), batches[0], &unary).ok());
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream({batches[1], batches[2]}, &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();

  storage::ScanRequest scan;
  scan.max_changes = 100;
  std::string wire;  // the entries as stored, each framed as PullResponse.changes
  ASSERT_TRUE(hub().context().store().log().ScanWire(scan, &wire).ok());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  uint64_t entries = 0;
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    ASSERT_EQ(tag, 0x0au);
    uint32_t length = 0;
    ASSERT_TRUE(in.ReadVarint32(&length));
    std::string entry;
    ASSERT_TRUE(in.ReadString(&entry, static_cast<int>(length)));
    pb::SyncChange parsed;
    ASSERT_TRUE(parsed.ParseFromString(entry));
    ++entries;
    EXPECT_EQ(parsed.log_sequence(), entries);
    EXPECT_EQ(entry, storage::SerializeWithLogSequence(parsed, entries)) << "entry " << entries;
  }
  EXPECT_EQ(entries, 6u);
}

TEST_F(PushStreamTest, ABatchNotAcceptedWholeIsTheLastOneApplied) {
  const std::string c = peer_->CreateCollective(MakeCollective())->id;   // 1
  const std::string a = peer_->CreateExperience(MakeExperience(c))->id;  // 2
  pb::ExperienceUpdate update;
  update.set_importance(0.5f);
  ASSERT_TRUE(peer_->UpdateExperience(a, update).ok());  // 3
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
  // The update arrives without the create before it: not found, rejected.
  std::vector<pb::PushRequest> batches = Batches({1, 2, 2});
  batches[1].mutable_changes()->DeleteSubrange(0, 1);  // drop the create of `a`
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream(batches, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "not accepted whole"))
      << status.error_message();
  ASSERT_EQ(responses.size(), 2u) << "the partial batch's response comes before the end";
  EXPECT_EQ(responses[0].accepted(), 1u);
  EXPECT_EQ(responses[1].accepted(), 0u);
  EXPECT_EQ(responses[1].rejected(), 1u);
  EXPECT_EQ(responses[1].first_failure().sequence(), 3u);
  EXPECT_EQ(responses[1].new_cursor().last_sequence(), 1u);
  // The batch after it was not applied, though the hub may have read it.
  EXPECT_EQ(HubMark(), 1u);
  EXPECT_EQ(hub().context().store().log().Head(), 1u);
}

TEST_F(PushStreamTest, ARefusedBatchEndsTheStreamWithItsError) {
  const std::string c = peer_->CreateCollective(MakeCollective())->id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
  std::vector<pb::PushRequest> batches = Batches({2, 2, 2});
  batches[1].mutable_changes(1)->set_collective_id(std::string(17, 'c'));
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream(batches, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "collective_id")) << status.error_message();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].accepted(), 2u);
  // Nothing of the refused batch or the one after it.
  EXPECT_EQ(HubMark(), 2u);
  EXPECT_EQ(hub().context().store().log().Head(), 2u);
}

TEST_F(PushStreamTest, AStreamCarriesOneSource) {
  std::unique_ptr<storage::Store> other = NewPeerStore("other");
  ASSERT_TRUE(Handshake(*other).ok());
  ASSERT_TRUE(peer_->CreateCollective(MakeCollective()).ok());
  ASSERT_TRUE(other->CreateCollective(MakeCollective()).ok());
  std::vector<pb::PushRequest> batches = Batches({1});
  batches.push_back(OwnChangesRequest(*other, 0));
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream(batches, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "one source_instance"))
      << status.error_message();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(*hub().context().store().OriginMark(other->instance_id()), 0u);
}

TEST_F(PushStreamTest, AnEmptyStreamEndsOk) {
  std::vector<pb::PushResponse> responses;
  grpc::Status status = Stream({}, &responses);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(responses.empty());
}

// Shutdown ends an open stream (UNAVAILABLE: the peer reconnects) once what it applies
// is written, and does not wait for the peer to close it.
TEST_F(PushStreamTest, ShutdownEndsAnOpenStream) {
  const std::string c = peer_->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(peer_->CreateExperience(MakeExperience(c)).ok());
  const std::vector<pb::PushRequest> batches = Batches({2});
  std::unique_ptr<grpc::ClientContext> context = Deadline();
  auto stream = stub().PushStream(context.get());
  ASSERT_TRUE(stream->Write(batches[0]));
  pb::PushResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.accepted(), 2u);
  hub().Shutdown();  // the stream is still open
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

// Every push passes the hub's push gate (server/work_gate.h); with one slot, the least a
// hub can have, streams and unary pushes from several peers at once all get through it
// (none waits forever on another) and each is applied whole.
TEST_F(PushStreamTest, PeersPushingAtOnceThroughAOneSlotGateAreAllApplied) {
  StopHub();
  hub_options().push_concurrency = 1;
  StartHub();
  ASSERT_EQ(hub().context().push_gate().slots(), 1);
  constexpr int kPeers = 6;
  std::vector<std::unique_ptr<storage::Store>> peers;
  std::vector<std::vector<pb::PushRequest>> batches(kPeers);
  for (int p = 0; p < kPeers; ++p) {
    peers.push_back(NewPeerStore(absl::StrCat("gated", p)));
    ASSERT_TRUE(Handshake(*peers[p]).ok());
    const std::string c = peers[p]->CreateCollective(MakeCollective())->id;
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(peers[p]->CreateExperience(MakeExperience(c)).ok());
    const pb::PushRequest all = OwnChangesRequest(*peers[p], 0);
    ASSERT_EQ(all.changes_size(), 9);
    if (p % 2 == 0) {  // one unary Push of all nine
      batches[p].push_back(all);
      continue;
    }
    for (int b = 0; b < 3; ++b) {  // a stream of three batches of three
      pb::PushRequest batch;
      batch.set_source_instance(all.source_instance());
      batch.set_target_instance(all.target_instance());
      for (int i = 0; i < 3; ++i) *batch.add_changes() = all.changes(3 * b + i);
      batches[p].push_back(std::move(batch));
    }
  }
  std::vector<grpc::Status> results(kPeers);
  std::vector<std::size_t> answered(kPeers, 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < kPeers; ++p) {
    threads.emplace_back([&, p] {
      std::vector<pb::PushResponse> responses;
      if (batches[p].size() == 1) {
        pb::PushResponse response;
        results[p] = stub().Push(Deadline().get(), batches[p][0], &response);
        if (results[p].ok()) responses.push_back(response);
      } else {
        results[p] = Stream(batches[p], &responses);
      }
      for (const pb::PushResponse& r : responses) {
        if (r.rejected() == 0) ++answered[p];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int p = 0; p < kPeers; ++p) {
    SCOPED_TRACE(p);
    EXPECT_TRUE(results[p].ok()) << results[p].error_message();
    EXPECT_EQ(answered[p], batches[p].size());
    EXPECT_EQ(*hub().context().store().OriginMark(peers[p]->instance_id()), 9u);
  }
  EXPECT_EQ(hub().context().push_gate().held(), 0);
}

}  // namespace
}  // namespace pulse
