#include "storage/change_header.h"

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

}  // namespace
}  // namespace pulse::storage
