// Builders of valid entities for tests, and status matchers. Thread-safe (pure functions).
#ifndef PULSESYNC_TESTS_SUPPORT_ENTITIES_H_
#define PULSESYNC_TESTS_SUPPORT_ENTITIES_H_

#include <cstdint>
#include <string>

#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::testing {

inline constexpr uint32_t kTestDimension = 8;

// A collective with a fresh id and kTestDimension-long embeddings.
pulsedb::sync::v1::Collective MakeCollective(const std::string& name = "team",
                                             uint32_t dimension = kTestDimension);
// An experience in `collective_id` with a fresh id, a Fact type and a `dimension`-long
// embedding.
pulsedb::sync::v1::Experience MakeExperience(const std::string& collective_id,
                                             const std::string& content = "lesson",
                                             uint32_t dimension = kTestDimension);
pulsedb::sync::v1::Relation MakeRelation(const std::string& source_id,
                                         const std::string& target_id);
pulsedb::sync::v1::Insight MakeInsight(const std::string& collective_id,
                                       uint32_t dimension = kTestDimension);

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_ENTITIES_H_
