#include "storage/keys.h"

#include "gtest/gtest.h"
#include "storage/ids.h"

namespace pulse::storage {
namespace {

TEST(Keys, SequencesEncodeBigEndianSoByteOrderIsNumericOrder) {
  EXPECT_LT(EncodeSequence(1), EncodeSequence(2));
  EXPECT_LT(EncodeSequence(255), EncodeSequence(256));
  EXPECT_LT(EncodeSequence(0xFFFFFFFF), EncodeSequence(0x100000000ULL));
  for (uint64_t v : {0ULL, 1ULL, 300ULL, 0xDEADBEEFCAFEULL, ~0ULL}) {
    absl::StatusOr<uint64_t> back = DecodeSequence(EncodeSequence(v));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, v);
  }
}

TEST(Keys, CorruptSequenceIsAnErrorNotACrash) {
  EXPECT_EQ(DecodeSequence("abc").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(DecodeSequence("").status().code(), absl::StatusCode::kInternal);
}

TEST(Keys, CursorKeyRoundTripsPeerAndKind) {
  const std::string peer = NewUuidV7();
  for (CursorKind kind : {CursorKind::kPush, CursorKind::kPull, CursorKind::kServed}) {
    absl::StatusOr<CursorKey> key = DecodeCursorKey(EncodeCursorKey(peer, kind));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->peer_id, peer);
    EXPECT_EQ(key->kind, kind);
  }
}

TEST(Keys, CorruptCursorKeysAreRejected) {
  EXPECT_FALSE(DecodeCursorKey("short").ok());
  std::string bad_kind = NewUuidV7();
  bad_kind.push_back('\x09');
  EXPECT_FALSE(DecodeCursorKey(bad_kind).ok());
}

TEST(Keys, TombstoneKeysSeparateEntityTypes) {
  const std::string id = NewUuidV7();
  EXPECT_NE(EncodeTombstoneKey(pulsedb::sync::v1::SYNC_ENTITY_TYPE_EXPERIENCE, id),
            EncodeTombstoneKey(pulsedb::sync::v1::SYNC_ENTITY_TYPE_RELATION, id));
  EXPECT_EQ(EncodeTombstoneKey(pulsedb::sync::v1::SYNC_ENTITY_TYPE_INSIGHT, id).size(), 17u);
}

TEST(Ids, UuidV7HasVersionAndVariantAndIsUnique) {
  const std::string a = NewUuidV7();
  const std::string b = NewUuidV7();
  ASSERT_EQ(a.size(), kIdSize);
  EXPECT_NE(a, b);
  EXPECT_EQ(static_cast<unsigned char>(a[6]) >> 4, 7);
  EXPECT_EQ(static_cast<unsigned char>(a[8]) >> 6, 2);
}

TEST(Ids, TextFormRoundTrips) {
  const std::string id = NewUuidV7();
  const std::string text = IdToText(id);
  EXPECT_EQ(text.size(), 36u);
  absl::StatusOr<std::string> back = IdFromText(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(IdFromText("not-a-uuid").ok());
  EXPECT_FALSE(IdFromText("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").ok());
}

TEST(Ids, ValidateIdNamesTheFieldAndTheSize) {
  absl::Status s = ValidateId("12345", "relation.source_id");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("relation.source_id"), absl::string_view::npos);
  EXPECT_NE(s.message().find("5 bytes"), absl::string_view::npos);
  EXPECT_TRUE(ValidateId(NewUuidV7(), "x").ok());
}

}  // namespace
}  // namespace pulse::storage
