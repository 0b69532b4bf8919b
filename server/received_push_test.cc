#include "server/received_push.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pulse::server {
namespace {

namespace pb = pulsedb::sync::v1;

pb::PushRequest Sample(int changes) {
  pb::PushRequest request;
  request.set_source_instance(std::string(16, 's'));
  for (int i = 0; i < changes; ++i) {
    pb::SyncChange* change = request.add_changes();
    change->set_sequence(i + 1);
    change->set_source_instance(std::string(16, 's'));
    change->set_collective_id(std::string(16, 'c'));
    pb::Experience* e = change->mutable_payload()->mutable_experience_created();
    e->set_id(std::string(16, static_cast<char>('a' + i)));
    e->set_content(std::string(100 + i, 'x'));
    for (int d = 0; d < 8; ++d) e->add_embedding(0.5f * d);
  }
  request.set_target_instance(std::string(16, 't'));
  return request;
}

// `bytes` cut into slices of `slice` bytes, as gRPC may hand a message over.
grpc::ByteBuffer InSlices(const std::string& bytes, std::size_t slice) {
  std::vector<grpc::Slice> slices;
  for (std::size_t at = 0; at < bytes.size(); at += slice) {
    slices.emplace_back(bytes.substr(at, slice));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST(ReceivedPushTest, EachChangesBytesAreItsSerializedForm) {
  const pb::PushRequest sent = Sample(5);
  const std::string bytes = sent.SerializeAsString();
  for (std::size_t slice : {bytes.size(), std::size_t{7}, std::size_t{64}}) {
    SCOPED_TRACE(slice);
    ReceivedPush received;
    ASSERT_TRUE(received.Parse(InSlices(bytes, slice)).ok());
    EXPECT_EQ(received.request().SerializeAsString(), bytes);
    ASSERT_EQ(received.change_bytes().size(), 5u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(received.change_bytes()[i], sent.changes(i).SerializeAsString());
    }
  }
}

// Parsed where the bytes lie: a change within one slice is a view into that slice, and
// only a change cut by a slice boundary is copied.
TEST(ReceivedPushTest, OnlyChangesCutBySliceBoundariesAreCopied) {
  const pb::PushRequest sent = Sample(20);
  const std::string bytes = sent.SerializeAsString();
  const grpc::ByteBuffer buffer = InSlices(bytes, 1000);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(buffer.Dump(&slices).ok());
  auto in_a_slice = [&](absl::string_view view) {
    for (const grpc::Slice& slice : slices) {
      const char* begin = reinterpret_cast<const char*>(slice.begin());
      if (view.data() >= begin && view.data() + view.size() <= begin + slice.size()) return true;
    }
    return false;
  };
  ReceivedPush received;
  ASSERT_TRUE(received.Parse(buffer).ok());
  ASSERT_EQ(received.change_bytes().size(), 20u);
  int views = 0;
  int copies = 0;
  std::size_t at = 0;  // where each change's bytes start in the message
  for (int i = 0; i < 20; ++i) {
    const std::string expected = sent.changes(i).SerializeAsString();
    at = bytes.find(expected, at);
    ASSERT_NE(at, std::string::npos);
    const bool cut = at / 1000 != (at + expected.size() - 1) / 1000;
    EXPECT_EQ(received.change_bytes()[i], expected);
    EXPECT_EQ(in_a_slice(received.change_bytes()[i]), !cut) << "change " << i;
    (cut ? copies : views)++;
  }
  EXPECT_GT(views, 0);
  EXPECT_GT(copies, 0);
}

TEST(ReceivedPushTest, ItCanBeReusedForTheNextRequest) {
  ReceivedPush received;
  ASSERT_TRUE(received.Parse(InSlices(Sample(3).SerializeAsString(), 10)).ok());
  const pb::PushRequest next = Sample(2);
  ASSERT_TRUE(received.Parse(InSlices(next.SerializeAsString(), 1 << 20)).ok());
  ASSERT_EQ(received.request().changes_size(), 2);
  EXPECT_EQ(received.change_bytes()[1], next.changes(1).SerializeAsString());
  // Larger than its arena's first block so far: it gets a larger one.
  const pb::PushRequest large = Sample(300);
  ASSERT_TRUE(received.Parse(InSlices(large.SerializeAsString(), 16384)).ok());
  EXPECT_EQ(received.request().SerializeAsString(), large.SerializeAsString());
  EXPECT_EQ(received.change_bytes()[299], large.changes(299).SerializeAsString());
}

// Larger than the arena block a parser keeps (4 MiB): the arena grows past it.
TEST(ReceivedPushTest, ARequestLargerThanTheKeptArenaBlockParses) {
  pb::PushRequest large = Sample(40);
  for (pb::SyncChange& change : *large.mutable_changes()) {
    change.mutable_payload()->mutable_experience_created()->set_content(
        std::string(200 << 10, 'y'));
  }
  const std::string bytes = large.SerializeAsString();
  ASSERT_GT(bytes.size(), std::size_t{6} << 20);
  ReceivedPush received;
  ASSERT_TRUE(received.Parse(InSlices(Sample(2).SerializeAsString(), 64)).ok());
  ASSERT_TRUE(received.Parse(InSlices(bytes, 16384)).ok());
  EXPECT_EQ(received.request().SerializeAsString(), bytes);
  ASSERT_EQ(received.change_bytes().size(), 40u);
  EXPECT_EQ(received.change_bytes()[39], large.changes(39).SerializeAsString());
}

TEST(ReceivedPushTest, BytesThatAreNotAPushRequestAreInvalidArgument) {
  const std::string truncated = std::string("\x0a\x05") + "ab";
  const std::string bad_tag("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  for (const std::string& bytes : {truncated, bad_tag}) {
    ReceivedPush received;
    absl::Status status = received.Parse(InSlices(bytes, 4));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "malformed PushRequest");
  }
}

}  // namespace
}  // namespace pulse::server
