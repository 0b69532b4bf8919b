#include "storage/change_encoding.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/entities.h"

namespace pulse::storage {
namespace {

namespace pb = pulsedb::sync::v1;

std::string Expected(pb::SyncChange change, uint64_t log_sequence) {
  change.set_log_sequence(log_sequence);
  return change.SerializeAsString();
}

pb::SyncChange Sample() {
  pb::SyncChange change;
  change.set_sequence(12);
  change.set_source_instance(std::string(16, 'a'));
  change.set_collective_id(std::string(16, 'c'));
  change.set_timestamp(1700000000000);
  *change.mutable_payload()->mutable_experience_created() =
      testing::MakeExperience(std::string(16, 'c'), "a lesson", 384);
  return change;
}

TEST(ChangeEncodingTest, SameBytesAsSettingTheFieldAndSerializing) {
  for (uint64_t old_log : {0ull, 1ull, 300ull, 1ull << 40}) {
    for (uint64_t base : {0ull, 5ull, 1ull << 33}) {
      for (uint64_t log : {0ull, 1ull, 127ull, 128ull, 99999ull, 1ull << 50}) {
        pb::SyncChange change = Sample();
        change.set_log_sequence(old_log);
        change.set_base_version(base);
        EXPECT_EQ(SerializeWithLogSequence(change, log), Expected(change, log))
            << "old " << old_log << " base " << base << " log " << log;
      }
    }
  }
}

TEST(ChangeEncodingTest, UnknownFieldsKeepTheirPlace) {
  pb::SyncChange change = Sample();
  change.set_base_version(9);
  change.GetReflection()->MutableUnknownFields(&change)->AddVarint(99, 7);
  EXPECT_EQ(SerializeWithLogSequence(change, 41), Expected(change, 41));
  pb::SyncChange parsed;
  ASSERT_TRUE(parsed.ParseFromString(SerializeWithLogSequence(change, 41)));
  EXPECT_EQ(parsed.log_sequence(), 41u);
  EXPECT_EQ(parsed.base_version(), 9u);
}

// Encoded before its sequence is known, spliced after: the same bytes.
TEST(ChangeEncodingTest, APreEncodedChangeSplicesToTheSameBytes) {
  for (uint64_t old_log : {0ull, 300ull}) {
    for (uint64_t base : {0ull, 1ull << 33}) {
      pb::SyncChange change = Sample();
      change.set_log_sequence(old_log);
      change.set_base_version(base);
      const PreEncodedChange encoded(change);
      ASSERT_TRUE(encoded.ready());
      for (uint64_t log : {0ull, 1ull, 128ull, 1ull << 50}) {
        std::string field;
        std::string spliced;
        for (absl::string_view piece : encoded.Splice(log, &field)) {
          spliced.append(piece.data(), piece.size());
        }
        EXPECT_EQ(spliced, Expected(change, log))
            << "old " << old_log << " base " << base << " log " << log;
      }
    }
  }
}

std::string Spliced(const PreEncodedChange& encoded, uint64_t log) {
  std::string field;
  std::string out;
  for (absl::string_view piece : encoded.Splice(log, &field))
    out.append(piece.data(), piece.size());
  return out;
}

// A change's bytes as received: used as they are when they are what a serializer writes.
TEST(ChangeEncodingTest, ReceivedBytesInSerializedFormAreUsedAsTheyAre) {
  for (uint64_t old_log : {0ull, 300ull}) {
    for (uint64_t base : {0ull, 1ull << 33}) {
      pb::SyncChange change = Sample();
      change.set_log_sequence(old_log);
      change.set_base_version(base);
      const std::string received = change.SerializeAsString();
      const PreEncodedChange encoded(change, received);
      ASSERT_TRUE(encoded.ready());
      std::string field;
      // The bulk of the entry points into the received bytes: nothing was serialized.
      EXPECT_EQ(encoded.Splice(7, &field)[0].data(), received.data());
      for (uint64_t log : {0ull, 1ull, 1ull << 50}) {
        EXPECT_EQ(Spliced(encoded, log), Expected(change, log))
            << "old " << old_log << " base " << base << " log " << log;
        EXPECT_EQ(PreEncodedChange(change, received).TakeEntry(log), Expected(change, log));
      }
    }
  }
}

// Bytes a serializer would not write (a field twice, a default written out, fields out
// of order at the end) still parse to the change: the entry is serialized instead.
TEST(ChangeEncodingTest, ReceivedBytesInAnotherFormAreSerializedAgain) {
  pb::SyncChange change = Sample();
  change.set_base_version(9);
  change.set_log_sequence(4);
  const std::string canonical = change.SerializeAsString();
  pb::SyncChange only_timestamp;
  only_timestamp.set_timestamp(change.timestamp());
  pb::SyncChange zero_log;
  zero_log.set_log_sequence(1);  // a tag with a value, then overwritten by the real one
  const std::vector<std::string> others = {
      canonical + only_timestamp.SerializeAsString(),  // timestamp twice
      zero_log.SerializeAsString() + canonical,        // log_sequence twice
  };
  for (const std::string& received : others) {
    pb::SyncChange parsed;
    ASSERT_TRUE(parsed.ParseFromString(received));
    const PreEncodedChange encoded(parsed, received);
    ASSERT_TRUE(encoded.ready());
    std::string field;
    EXPECT_NE(encoded.Splice(7, &field)[0].data(), received.data());
    EXPECT_EQ(Spliced(encoded, 41), Expected(parsed, 41));
  }
}

TEST(ChangeEncodingTest, AChangeWithUnknownFieldsIsNotPreEncoded) {
  pb::SyncChange change = Sample();
  change.GetReflection()->MutableUnknownFields(&change)->AddVarint(99, 7);
  EXPECT_FALSE(PreEncodedChange(change).ready());
  EXPECT_FALSE(PreEncodedChange(change, change.SerializeAsString()).ready());
}

}  // namespace
}  // namespace pulse::storage
