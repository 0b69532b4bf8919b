#include "tests/support/entities.h"

#include "storage/ids.h"

namespace pulse::testing {

namespace pb = pulsedb::sync::v1;

pb::Collective MakeCollective(const std::string& name, uint32_t dimension) {
  pb::Collective c;
  c.set_id(storage::NewUuidV7());
  c.set_name(name);
  c.set_embedding_dimension(dimension);
  c.set_created_at(1700000000000);
  c.set_updated_at(1700000000000);
  return c;
}

pb::Experience MakeExperience(const std::string& collective_id, const std::string& content,
                              uint32_t dimension) {
  pb::Experience e;
  e.set_id(storage::NewUuidV7());
  e.set_collective_id(collective_id);
  e.set_content(content);
  for (uint32_t i = 0; i < dimension; ++i) e.add_embedding(0.25f * static_cast<float>(i));
  e.mutable_experience_type()->mutable_fact()->set_statement(content);
  e.mutable_experience_type()->mutable_fact()->set_source("test");
  e.set_importance(0.5f);
  e.set_confidence(0.75f);
  e.add_domain("testing");
  e.set_source_agent("agent-under-test");
  return e;
}

pb::Relation MakeRelation(const std::string& source_id, const std::string& target_id) {
  pb::Relation r;
  r.set_id(storage::NewUuidV7());
  r.set_source_id(source_id);
  r.set_target_id(target_id);
  r.set_relation_type(pb::RELATION_TYPE_SUPPORTS);
  r.set_strength(0.9f);
  return r;
}

pb::Insight MakeInsight(const std::string& collective_id, uint32_t dimension) {
  pb::Insight i;
  i.set_id(storage::NewUuidV7());
  i.set_collective_id(collective_id);
  i.set_content("pattern");
  for (uint32_t d = 0; d < dimension; ++d) i.add_embedding(1.0f);
  i.set_insight_type(pb::INSIGHT_TYPE_PATTERN);
  i.set_confidence(0.6f);
  return i;
}

}  // namespace pulse::testing
