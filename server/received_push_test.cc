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

TEST(ReceivedPushTest, ItCanBeReusedForTheNextRequest) {
  ReceivedPush received;
  ASSERT_TRUE(received.Parse(InSlices(Sample(3).SerializeAsString(), 10)).ok());
  const pb::PushRequest next = Sample(2);
  ASSERT_TRUE(received.Parse(InSlices(next.SerializeAsString(), 1 << 20)).ok());
  ASSERT_EQ(received.request().changes_size(), 2);
  EXPECT_EQ(received.change_bytes()[1], next.changes(1).SerializeAsString());
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
