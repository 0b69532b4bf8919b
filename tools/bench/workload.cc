#include "tools/bench/workload.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace pulse::bench {

namespace pb = pulsedb::sync::v1;

namespace {

// splitmix64: a fast, well-mixed stream from any 64-bit state.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix(state_++ * 0x2545f4914f6cdd1dull); }
  // Uniform in [-1, 1): embedding components look like a normalized model's output.
  float Unit() {
    return static_cast<float>(static_cast<double>(Next() >> 11) / 4503599627370496.0 - 1.0);
  }
  const char* Pick(const char* const* words, std::size_t n) { return words[Next() % n]; }

 private:
  uint64_t state_;
};

constexpr const char* kWords[] = {
    "retry",    "backoff",  "timeout",   "cache",     "index",  "migration", "schema",
    "deadlock", "mutex",    "channel",   "batch",     "cursor", "snapshot",  "compaction",
    "latency",  "p99",      "tokenizer", "embedding", "prompt", "context",   "window",
    "agent",    "planner",  "tool",      "call",      "failed", "because",   "the",
    "service",  "returned", "stale",     "results",   "after",  "restart",   "use",
    "a",        "bounded",  "queue",     "instead",   "of",     "polling",   "every"};
constexpr const char* kDomains[] = {"rust",  "cpp", "grpc",    "rocksdb", "python",
                                    "infra", "llm", "testing", "ci",      "storage"};
constexpr const char* kAgents[] = {"planner-agent", "coder-agent", "review-agent", "ops-agent"};

std::string Sentence(Rng& rng, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) {
    if (i > 0) out += ' ';
    out += rng.Pick(kWords, sizeof kWords / sizeof *kWords);
  }
  out += '.';
  return out;
}

}  // namespace

std::string Workload::ActorId(uint64_t n) {
  // A UUID v7-shaped id: a fixed "timestamp", then the actor number.
  std::string id(16, '\0');
  const uint64_t high = 0x0190000000007000ull | ((n >> 48) & 0xfff);
  const uint64_t low = 0x8000000000000000ull | (n & 0x3fffffffffffffffull);
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<char>(high >> (56 - 8 * i));
    id[8 + i] = static_cast<char>(low >> (56 - 8 * i));
  }
  return id;
}

Workload::Workload(WorkloadOptions options) : options_(options) {
  for (int i = 0; i < options_.collectives; ++i) {
    pb::Collective c;
    c.set_id(ActorId(0xc0110000 + i + (options_.seed << 20)));
    c.set_name(absl::StrCat("team-", i));
    c.set_embedding_dimension(options_.dimension);
    c.set_created_at(1700000000000);
    c.set_updated_at(1700000000000);
    collectives_.push_back(std::move(c));
  }
}

std::vector<pb::SyncChange> Workload::CollectiveChanges(const std::string& origin) const {
  std::vector<pb::SyncChange> out;
  uint64_t sequence = 1;
  for (const pb::Collective& c : collectives_) {
    pb::SyncChange change;
    change.set_sequence(sequence++);
    change.set_source_instance(origin);
    change.set_collective_id(c.id());
    change.set_entity_type(pb::SYNC_ENTITY_TYPE_COLLECTIVE);
    change.set_timestamp(c.created_at());
    *change.mutable_payload()->mutable_collective_created() = c;
    out.push_back(std::move(change));
  }
  return out;
}

pb::Experience Workload::MakeExperience(uint64_t index) const {
  Rng rng(Mix(options_.seed) ^ Mix(index));
  pb::Experience e;
  e.set_id(ActorId((options_.seed << 40) + 0x1000000 + index));
  e.set_collective_id(collectives_[index % collectives_.size()].id());
  e.set_content(Sentence(rng, 7));
  e.mutable_embedding()->Reserve(static_cast<int>(options_.dimension));
  for (uint32_t i = 0; i < options_.dimension; ++i) e.add_embedding(rng.Unit());
  pb::ErrorPattern* pattern = e.mutable_experience_type()->mutable_error_pattern();
  pattern->set_signature(Sentence(rng, 2));
  pattern->set_fix(Sentence(rng, 2));
  e.set_importance(0.5f + 0.5f * rng.Unit());
  e.set_confidence(0.5f + 0.25f * rng.Unit());
  e.add_domain(rng.Pick(kDomains, sizeof kDomains / sizeof *kDomains));
  e.add_related_files(absl::StrCat(rng.Pick(kWords, sizeof kWords / sizeof *kWords), ".cc"));
  e.set_source_agent(rng.Pick(kAgents, sizeof kAgents / sizeof *kAgents));
  e.set_timestamp(1700000000000 + static_cast<int64_t>(index));
  return e;
}

pb::SyncChange Workload::ExperienceChange(const std::string& origin, uint64_t sequence,
                                          uint64_t index) const {
  pb::SyncChange change;
  pb::Experience* e = change.mutable_payload()->mutable_experience_created();
  *e = MakeExperience(index);
  change.set_sequence(sequence);
  change.set_source_instance(origin);
  change.set_collective_id(e->collective_id());
  change.set_entity_type(pb::SYNC_ENTITY_TYPE_EXPERIENCE);
  change.set_timestamp(e->timestamp());
  return change;
}

pb::PushRequest Workload::PushBatch(const std::string& origin, uint64_t first_sequence,
                                    uint64_t first_index, int count) const {
  pb::PushRequest request;
  request.set_source_instance(origin);
  request.mutable_changes()->Reserve(count);
  for (int i = 0; i < count; ++i) {
    *request.add_changes() = ExperienceChange(origin, first_sequence + i, first_index + i);
  }
  return request;
}

}  // namespace pulse::bench
