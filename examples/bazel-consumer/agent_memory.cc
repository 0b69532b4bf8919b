#include "agent_memory.h"

#include <utility>

namespace example {

namespace pb = pulsedb::sync::v1;

absl::StatusOr<std::unique_ptr<AgentMemory>> AgentMemory::Open(
    const std::string& directory, std::shared_ptr<pulse::client::SyncTransport> hub) {
  absl::StatusOr<std::unique_ptr<pulse::storage::Store>> store =
      pulse::storage::Store::Open(directory);
  if (!store.ok()) return store.status();
  auto memory = std::make_unique<AgentMemory>();
  memory->store_ = std::move(*store);
  memory->sync_ = std::make_unique<pulse::client::SyncManager>(memory->store_.get(), std::move(hub),
                                                               pulse::client::SyncConfig());
  return memory;
}

absl::StatusOr<std::string> AgentMemory::Team(const std::string& name) {
  absl::StatusOr<std::vector<pb::Collective>> known = store_->ListCollectives();
  if (!known.ok()) return known.status();
  for (const pb::Collective& c : *known) {
    if (c.name() == name) return c.id();
  }
  pb::Collective team;
  team.set_name(name);
  team.set_embedding_dimension(3);
  absl::StatusOr<pulse::storage::LocalWrite> made = store_->CreateCollective(team);
  if (!made.ok()) return made.status();
  return made->id;
}

absl::StatusOr<std::string> AgentMemory::Remember(const std::string& team,
                                                  const std::string& lesson) {
  pb::Experience e;
  e.set_collective_id(team);
  e.set_content(lesson);
  for (float v : {0.1f, 0.2f, 0.3f}) e.add_embedding(v);
  e.mutable_experience_type()->mutable_fact()->set_statement(lesson);
  absl::StatusOr<pulse::storage::LocalWrite> written = store_->CreateExperience(e);
  if (!written.ok()) return written.status();
  return written->id;
}

std::vector<std::string> AgentMemory::Lessons() const {
  std::vector<std::string> out;
  absl::StatusOr<std::vector<pb::Experience>> all = store_->ListExperiences();
  if (!all.ok()) return out;
  for (const pb::Experience& e : *all) out.push_back(e.content());
  return out;
}

}  // namespace example
