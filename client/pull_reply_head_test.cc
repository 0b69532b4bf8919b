#include "client/pull_reply_head.h"

#include <string>

#include "grpcpp/support/slice.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::client {
namespace {

namespace pb = pulsedb::sync::v1;

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A page's fields but the changes, as the hub frames them.
pb::PullResponse Head(bool has_more, uint64_t cursor, uint64_t head_sequence) {
  pb::PullResponse head;
  head.set_has_more(has_more);
  head.mutable_new_cursor()->set_instance_id("hub");
  head.mutable_new_cursor()->set_last_sequence(cursor);
  head.set_responder_instance("hub");
  head.set_head_sequence(head_sequence);
  return head;
}

std::string Changes(int count) {
  pb::PullResponse changes;
  for (int i = 1; i <= count; ++i) {
    pb::SyncChange* change = changes.add_changes();
    change->set_sequence(i);
    change->set_log_sequence(i);
    change->set_source_instance(std::string(16, 'a'));
  }
  return changes.SerializeAsString();
}

TEST(PeekPullReplyHead, ReadsTheFieldsFramedBeforeTheChanges) {
  const std::string wire = Head(true, 42, 90).SerializeAsString() + Changes(3);
  std::optional<PullReplyHead> head = PeekPullReplyHead(Buffer(wire));
  ASSERT_TRUE(head.has_value());
  EXPECT_TRUE(head->has_more);
  EXPECT_EQ(head->new_cursor, 42u);
  EXPECT_EQ(head->cursor_instance, "hub");
  EXPECT_EQ(head->responder_instance, "hub");
  EXPECT_EQ(head->head_sequence, 90u);
  // The same bytes parse whole as one message, the head's values included.
  pb::PullResponse whole;
  ASSERT_TRUE(whole.ParseFromString(wire));
  EXPECT_EQ(whole.changes_size(), 3);
  EXPECT_EQ(whole.new_cursor().last_sequence(), 42u);
}

TEST(PeekPullReplyHead, ReadsAHeadSplitAcrossSlices) {
  const std::string head = Head(false, 7, 7).SerializeAsString();
  const std::string wire = head + Changes(2);
  // Cut inside the cursor's bytes: the reader crosses slices.
  grpc::Slice slices[] = {grpc::Slice(wire.substr(0, 5)), grpc::Slice(wire.substr(5))};
  std::optional<PullReplyHead> peeked = PeekPullReplyHead(grpc::ByteBuffer(slices, 2));
  ASSERT_TRUE(peeked.has_value());
  EXPECT_FALSE(peeked->has_more);  // proto3 leaves a false has_more off the wire
  EXPECT_EQ(peeked->new_cursor, 7u);
}

TEST(PeekPullReplyHead, AReplyWithoutChangesIsAllHead) {
  std::optional<PullReplyHead> head =
      PeekPullReplyHead(Buffer(Head(false, 9, 9).SerializeAsString()));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->new_cursor, 9u);
}

TEST(PeekPullReplyHead, ChangesFirstGivesNothingToActOn) {
  // Protobuf's own serializer writes fields in number order: changes first.
  pb::PullResponse whole = Head(true, 42, 90);
  whole.add_changes()->set_sequence(1);
  EXPECT_FALSE(PeekPullReplyHead(Buffer(whole.SerializeAsString())).has_value());
}

TEST(PeekPullReplyHead, WithoutACursorOrMalformedGivesNothing) {
  pb::PullResponse no_cursor;
  no_cursor.set_has_more(true);
  no_cursor.set_head_sequence(5);
  EXPECT_FALSE(PeekPullReplyHead(Buffer(no_cursor.SerializeAsString())).has_value());
  // A cursor field whose length runs past the end.
  const std::string truncated = Head(true, 42, 90).SerializeAsString().substr(0, 6);
  EXPECT_FALSE(PeekPullReplyHead(Buffer(truncated)).has_value());
  EXPECT_FALSE(PeekPullReplyHead(Buffer(std::string("\xff\xff\xff", 3))).has_value());
}

TEST(PeekPullReplyHead, SkipsFieldsItDoesNotKnow) {
  std::string wire;
  wire.push_back(static_cast<char>((15 << 3) | 0));  // field 15, varint
  wire.push_back(1);
  wire += Head(true, 11, 12).SerializeAsString() + Changes(1);
  std::optional<PullReplyHead> head = PeekPullReplyHead(Buffer(wire));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->new_cursor, 11u);
}

}  // namespace
}  // namespace pulse::client
