#include "storage/entity_rules.h"

#include "gtest/gtest.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

ReinforcementBuckets Buckets(std::initializer_list<std::pair<std::string, uint32_t>> items) {
  ReinforcementBuckets out;
  for (const auto& [id, count] : items) {
    pb::ReinforcementBucket* b = out.Add();
    b->set_instance_id(std::string(16, id[0]));
    b->set_count(count);
  }
  return out;
}

TEST(LastWriteWins, LaterTimestampWins) {
  EXPECT_TRUE(StampIsNewer(2, "a", 1, "z"));
  EXPECT_FALSE(StampIsNewer(1, "z", 2, "a"));
}

TEST(LastWriteWins, EqualTimestampsAreOrderedByOriginSoEveryReplicaAgrees) {
  EXPECT_TRUE(StampIsNewer(5, "b", 5, "a"));
  EXPECT_FALSE(StampIsNewer(5, "a", 5, "b"));
  EXPECT_FALSE(StampIsNewer(5, "a", 5, "a"));  // the same write is not newer than itself
}

TEST(GCounter, MergeTakesPerBucketMaximumAndSumIsTheCount) {
  ReinforcementBuckets mine = Buckets({{"a", 3}, {"b", 1}});
  ReinforcementBuckets theirs = Buckets({{"b", 4}, {"c", 2}, {"a", 1}});
  EXPECT_TRUE(MergeReinforcement(theirs, &mine));
  EXPECT_EQ(ReinforcementTotal(mine), 3u + 4u + 2u);
  // Merging again changes nothing: merge is idempotent.
  EXPECT_FALSE(MergeReinforcement(theirs, &mine));
  EXPECT_EQ(ReinforcementTotal(mine), 9u);
}

TEST(GCounter, MergeIsCommutative) {
  ReinforcementBuckets x = Buckets({{"a", 3}, {"b", 1}});
  ReinforcementBuckets y = Buckets({{"b", 4}, {"c", 2}});
  ReinforcementBuckets xy = x, yx = y;
  MergeReinforcement(y, &xy);
  MergeReinforcement(x, &yx);
  ASSERT_EQ(xy.size(), yx.size());
  for (int i = 0; i < xy.size(); ++i) {
    EXPECT_EQ(xy[i].instance_id(), yx[i].instance_id());
    EXPECT_EQ(xy[i].count(), yx[i].count());
  }
}

TEST(GCounter, TotalSaturatesInsteadOfWrapping) {
  ReinforcementBuckets big = Buckets({{"a", 0xFFFFFFFF}, {"b", 5}});
  EXPECT_EQ(ReinforcementTotal(big), 0xFFFFFFFFu);
}

TEST(ExperienceUpdate, CrdtFieldsMergeAndPlainFieldsAreSeparate) {
  pb::ExperienceUpdate u;
  u.set_importance(0.9f);
  u.set_last_reinforced(100);
  *u.mutable_reinforcement() = Buckets({{"a", 2}});
  EXPECT_TRUE(HasPlainFields(u));
  pb::ExperienceUpdate crdt = CrdtPart(u);
  EXPECT_FALSE(HasPlainFields(crdt));
  pb::Experience e;
  e.set_importance(0.1f);
  e.set_last_reinforced(200);
  EXPECT_TRUE(MergeCrdtFields(u, &e));
  EXPECT_EQ(e.applications(), 2u);
  EXPECT_EQ(e.last_reinforced(), 200);  // max, not overwrite
  EXPECT_FLOAT_EQ(e.importance(), 0.1f);
  ApplyPlainFields(u, &e);
  EXPECT_FLOAT_EQ(e.importance(), 0.9f);
}

}  // namespace
}  // namespace pulse::storage
