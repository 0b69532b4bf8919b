#include "storage/change_header.h"

#include <string>

#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/support/entities.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

TEST(ChangeHeaderTest, ReadsWhatFiltersNeedFromTheWireBytes) {
  pb::SyncChange change;
  change.set_sequence(300);
  change.set_source_instance(std::string(16, 's'));
  change.set_collective_id(std::string(16, 'c'));
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_INSIGHT);
  change.set_timestamp(1700000000000);
  change.set_log_sequence(77);
  change.set_base_version(5);
  *change.mutable_payload()->mutable_insight_created() =
      testing::MakeInsight(std::string(16, 'c'), 384);
  const std::string wire = change.SerializeAsString();
  ChangeHeader header;
  ASSERT_TRUE(ReadChangeHeader(wire, &header));
  EXPECT_EQ(header.sequence, 300u);
  EXPECT_EQ(header.source_instance, change.source_instance());
  EXPECT_EQ(header.collective_id, change.collective_id());
  EXPECT_EQ(header.entity_type, pb::SYNC_ENTITY_TYPE_INSIGHT);
  EXPECT_EQ(header.timestamp, 1700000000000);  // after the payload it skipped
}

TEST(ChangeHeaderTest, DefaultsWhenFieldsAreAbsent) {
  ChangeHeader header;
  ASSERT_TRUE(ReadChangeHeader("", &header));
  EXPECT_EQ(header.sequence, 0u);
  EXPECT_TRUE(header.source_instance.empty());
  EXPECT_EQ(header.entity_type, 0);
}

TEST(ChangeHeaderTest, RefusesTruncatedBytes) {
  pb::SyncChange change;
  change.set_source_instance(std::string(16, 's'));
  std::string wire = change.SerializeAsString();
  wire.pop_back();
  ChangeHeader header;
  EXPECT_FALSE(ReadChangeHeader(wire, &header));
}

pb::SyncChange HeaderOnly() {
  pb::SyncChange change;
  change.set_sequence(300);
  change.set_source_instance(std::string(16, 's'));
  change.set_collective_id(std::string(16, 'c'));
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_RELATION);
  change.set_timestamp(1700000000000);
  return change;
}

// What ReadChangeHeader finds must be what protobuf's parser finds: the hub checks the
// parsed change and filters by the header.
void ExpectSameAsProtobuf(const std::string& wire) {
  pb::SyncChange parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ChangeHeader header;
  ASSERT_TRUE(ReadChangeHeader(wire, &header));
  EXPECT_EQ(header.sequence, parsed.sequence());
  EXPECT_EQ(header.source_instance, parsed.source_instance());
  EXPECT_EQ(header.collective_id, parsed.collective_id());
  EXPECT_EQ(header.entity_type, parsed.entity_type());
  EXPECT_EQ(header.timestamp, parsed.timestamp());
}

std::string Tag(int field, int wire_type) {
  std::string out;
  for (uint32_t tag = (field << 3) | wire_type;; tag >>= 7) {
    if (tag < 0x80) {
      out.push_back(static_cast<char>(tag));
      return out;
    }
    out.push_back(static_cast<char>(tag | 0x80));
  }
}

// Protobuf 3 parses a field it does not know in any wire type and keeps it, groups
// included: a sender can put one in a change, and the hub stores such a change as
// protobuf serializes it again, unknown fields and all. A header reader that gave up
// on a group made the entry unreadable to every scan, snapshot and compaction after it.
TEST(ChangeHeaderTest, SkipsUnknownFieldsOfEveryWireTypeGroupsIncluded) {
  pb::SyncChange change = HeaderOnly();
  google::protobuf::UnknownFieldSet* unknown =
      change.GetReflection()->MutableUnknownFields(&change);
  unknown->AddVarint(100, 7);
  unknown->AddFixed32(101, 7);
  unknown->AddFixed64(102, 7);
  unknown->AddLengthDelimited(103, "bytes");
  google::protobuf::UnknownFieldSet* group = unknown->AddGroup(104);
  group->AddVarint(3, 1);  // field numbers of the change's own fields, inside the group
  group->AddLengthDelimited(2, std::string(16, 'x'));
  group->AddGroup(105)->AddFixed64(1, 9);  // nested
  const std::string wire = change.SerializeAsString();
  ExpectSameAsProtobuf(wire);
  ChangeHeader header;
  ASSERT_TRUE(ReadChangeHeader(wire, &header));
  EXPECT_EQ(header.source_instance, std::string(16, 's'));  // not the group's field 2
  EXPECT_EQ(header.timestamp, 1700000000000);
}

TEST(ChangeHeaderTest, ReadsRepeatedAndMistypedFieldsAsProtobufDoes) {
  const std::string wire = HeaderOnly().SerializeAsString();
  // A field given twice: the last wins.
  ExpectSameAsProtobuf(wire + Tag(3, 2) + '\x10' + std::string(16, 'd'));
  ExpectSameAsProtobuf(wire + Tag(6, 0) + '\x05');
  // A field of another wire type than its own: an unknown field, not the field.
  ExpectSameAsProtobuf(wire + Tag(3, 0) + '\x05');
  ExpectSameAsProtobuf(wire + Tag(1, 2) + '\x01' + 'x');
  const std::string mistyped = wire + Tag(3, 0) + '\x05';  // the header's views point here
  ChangeHeader header;
  ASSERT_TRUE(ReadChangeHeader(mistyped, &header));
  EXPECT_EQ(header.collective_id, std::string(16, 'c'));
}

TEST(ChangeHeaderTest, RefusesGroupsProtobufRefuses) {
  const std::string wire = HeaderOnly().SerializeAsString();
  for (const std::string& bad : {
           wire + Tag(104, 3),                       // never closed
           wire + Tag(104, 3) + Tag(1, 0) + '\x01',  // never closed
           wire + Tag(104, 3) + Tag(105, 4),         // closed as another field
           wire + Tag(104, 4),                       // closed, never opened
           wire + Tag(104, 6),                       // no such wire type
       }) {
    pb::SyncChange parsed;
    EXPECT_FALSE(parsed.ParseFromString(bad));
    ChangeHeader header;
    EXPECT_FALSE(ReadChangeHeader(bad, &header));
  }
  std::string deep = wire;
  for (int i = 0; i < 200; ++i) deep += Tag(104, 3);
  for (int i = 0; i < 200; ++i) deep += Tag(104, 4);
  pb::SyncChange parsed;
  EXPECT_FALSE(parsed.ParseFromString(deep));  // protobuf stops at 100 levels
  ChangeHeader header;
  EXPECT_FALSE(ReadChangeHeader(deep, &header));
  // A field number 0 ends a message for protobuf's parser, which then refuses it.
  EXPECT_FALSE(parsed.ParseFromString(wire + Tag(0, 0) + '\x01'));
  EXPECT_FALSE(ReadChangeHeader(wire + Tag(0, 0) + '\x01', &header));
  EXPECT_FALSE(parsed.ParseFromString(wire + Tag(0, 0)));
  EXPECT_FALSE(ReadChangeHeader(wire + Tag(0, 0), &header));
}

}  // namespace
}  // namespace pulse::storage
