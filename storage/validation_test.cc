#include "storage/validation.h"

#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "tests/support/entities.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

pb::SyncChange ValidExperienceCreate() {
  pb::Collective c = pulse::testing::MakeCollective();
  pb::SyncChange change;
  change.set_sequence(7);
  change.set_source_instance(NewUuidV7());
  change.set_collective_id(c.id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_EXPERIENCE);
  change.set_timestamp(1700000000000);
  *change.mutable_payload()->mutable_experience_created() = pulse::testing::MakeExperience(c.id());
  return change;
}

struct BadCase {
  const char* name;
  std::function<void(pb::SyncChange&)> mutate;
  const char* mentions;
};

TEST(ValidateChange, AcceptsAWellFormedChange) {
  EXPECT_TRUE(ValidateChange(ValidExperienceCreate()).ok());
}

TEST(ValidateChange, RefusesEachMalformedShapeWithAMessageNamingIt) {
  const BadCase cases[] = {
      {"sequence zero", [](pb::SyncChange& c) { c.set_sequence(0); }, "sequence"},
      {"short origin", [](pb::SyncChange& c) { c.set_source_instance("abc"); }, "source_instance"},
      {"long collective", [](pb::SyncChange& c) { c.set_collective_id(std::string(17, 'x')); },
       "collective_id"},
      {"unknown entity type",
       [](pb::SyncChange& c) { c.set_entity_type(static_cast<pb::SyncEntityType>(9)); },
       "entity_type"},
      {"type disagrees with payload",
       [](pb::SyncChange& c) { c.set_entity_type(pb::SYNC_ENTITY_TYPE_INSIGHT); }, "entity_type"},
      {"no payload", [](pb::SyncChange& c) { c.clear_payload(); }, "payload"},
      {"bad experience id",
       [](pb::SyncChange& c) { c.mutable_payload()->mutable_experience_created()->set_id(""); },
       "experience.id"},
      {"collective mismatch",
       [](pb::SyncChange& c) {
         c.mutable_payload()->mutable_experience_created()->set_collective_id(NewUuidV7());
       },
       "collective_id"},
      {"NaN importance",
       [](pb::SyncChange& c) {
         c.mutable_payload()->mutable_experience_created()->set_importance(NAN);
       },
       "importance"},
      {"infinite embedding value",
       [](pb::SyncChange& c) {
         c.mutable_payload()->mutable_experience_created()->set_embedding(0, INFINITY);
       },
       "embedding"},
      {"no experience type",
       [](pb::SyncChange& c) {
         c.mutable_payload()->mutable_experience_created()->clear_experience_type();
       },
       "experience_type"},
      {"unknown severity",
       [](pb::SyncChange& c) {
         c.mutable_payload()
             ->mutable_experience_created()
             ->mutable_experience_type()
             ->mutable_difficulty()
             ->set_severity(static_cast<pb::Severity>(42));
       },
       "severity"},
      {"negative timestamp", [](pb::SyncChange& c) { c.set_timestamp(-5); }, "timestamp"},
      {"duplicate reinforcement bucket",
       [](pb::SyncChange& c) {
         auto* e = c.mutable_payload()->mutable_experience_created();
         const std::string id = NewUuidV7();
         for (int i = 0; i < 2; ++i) {
           auto* b = e->add_reinforcement();
           b->set_instance_id(id);
           b->set_count(1);
         }
       },
       "appears twice"},
  };
  for (const BadCase& bad : cases) {
    pb::SyncChange change = ValidExperienceCreate();
    bad.mutate(change);
    absl::Status s = ValidateChange(change);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad.name;
    EXPECT_NE(s.message().find(bad.mentions), absl::string_view::npos)
        << bad.name << ": " << s.message();
  }
}

TEST(ValidateChange, TooManyReinforcementBucketsIsInvalid) {
  pb::SyncChange change = ValidExperienceCreate();
  auto* e = change.mutable_payload()->mutable_experience_created();
  for (std::size_t i = 0; i <= kMaxReinforcementBuckets; ++i) {
    auto* b = e->add_reinforcement();
    std::string id(16, '\0');
    for (int k = 0; k < 8; ++k) id[k] = static_cast<char>(i >> (8 * k));
    b->set_instance_id(id);
    b->set_count(1);
  }
  absl::Status s = ValidateChange(change);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("65536"), absl::string_view::npos) << s;
}

TEST(ValidateChange, RelationToItselfAndUnknownRelationTypeAreInvalid) {
  pb::Relation r = pulse::testing::MakeRelation(NewUuidV7(), NewUuidV7());
  r.set_target_id(r.source_id());
  EXPECT_EQ(ValidateRelation(r).code(), absl::StatusCode::kInvalidArgument);
  r = pulse::testing::MakeRelation(NewUuidV7(), NewUuidV7());
  r.set_relation_type(static_cast<pb::RelationType>(77));
  EXPECT_EQ(ValidateRelation(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateChange, EveryNonFiniteEmbeddingValueIsFoundWhereverItSitsAndFiniteExtremesPass) {
  // 384 values: checked in blocks of 16 and a remainder (validation.cc); 390 leaves one.
  for (int size : {384, 390}) {
    pb::SyncChange change = ValidExperienceCreate();
    auto* embedding = change.mutable_payload()->mutable_experience_created()->mutable_embedding();
    embedding->Clear();
    for (int i = 0; i < size; ++i) embedding->Add(i % 2 == 0 ? 0.25f : -1.5f);
    embedding->Set(3, std::numeric_limits<float>::max());
    embedding->Set(4, -std::numeric_limits<float>::max());
    embedding->Set(5, std::numeric_limits<float>::denorm_min());
    embedding->Set(6, -0.0f);
    ASSERT_TRUE(ValidateChange(change).ok()) << size << ": " << ValidateChange(change);
    for (int at : {0, 15, 16, 200, size - 1}) {
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        pb::SyncChange broken = change;
        broken.mutable_payload()->mutable_experience_created()->set_embedding(at, bad);
        absl::Status s = ValidateChange(broken);
        EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << size << " " << at << " " << bad;
        EXPECT_NE(s.message().find(absl::StrCat("value ", at, " ")), absl::string_view::npos) << s;
      }
    }
  }
}

TEST(VersionedEntityOf, TypeAndIdOfEachBodyAndNoneWithoutOne) {
  pb::VersionedEntity e;
  pb::SyncEntityType type;
  EXPECT_FALSE(EntityTypeOfVersioned(e, &type));
  EXPECT_EQ(VersionedEntityId(e), "");
  *e.mutable_collective() = pulse::testing::MakeCollective();
  ASSERT_TRUE(EntityTypeOfVersioned(e, &type));
  EXPECT_EQ(type, pb::SYNC_ENTITY_TYPE_COLLECTIVE);
  EXPECT_EQ(VersionedEntityId(e), e.collective().id());
  *e.mutable_experience() = pulse::testing::MakeExperience(NewUuidV7());
  ASSERT_TRUE(EntityTypeOfVersioned(e, &type));
  EXPECT_EQ(type, pb::SYNC_ENTITY_TYPE_EXPERIENCE);
  EXPECT_EQ(VersionedEntityId(e), e.experience().id());
  *e.mutable_relation() = pulse::testing::MakeRelation(NewUuidV7(), NewUuidV7());
  ASSERT_TRUE(EntityTypeOfVersioned(e, &type));
  EXPECT_EQ(type, pb::SYNC_ENTITY_TYPE_RELATION);
  EXPECT_EQ(VersionedEntityId(e), e.relation().id());
  *e.mutable_insight() = pulse::testing::MakeInsight(NewUuidV7());
  ASSERT_TRUE(EntityTypeOfVersioned(e, &type));
  EXPECT_EQ(type, pb::SYNC_ENTITY_TYPE_INSIGHT);
  EXPECT_EQ(VersionedEntityId(e), e.insight().id());
}

TEST(ValidateCollective, DimensionMustFitInSixteenBitsAndBePositive) {
  pb::Collective c = pulse::testing::MakeCollective();
  c.set_embedding_dimension(0);
  EXPECT_FALSE(ValidateCollective(c).ok());
  c.set_embedding_dimension(70000);
  EXPECT_FALSE(ValidateCollective(c).ok());
  c.set_embedding_dimension(384);
  EXPECT_TRUE(ValidateCollective(c).ok());
}

}  // namespace
}  // namespace pulse::storage
