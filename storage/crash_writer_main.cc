// Test helper for crash_consistency_test: writes a random stream of creates, updates,
// relations and deletes into the store at argv[1] until killed, and after each
// acknowledged write sends its log sequence (8 bytes, native order) to fd argv[2].
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "storage/store.h"
#include "tests/support/entities.h"

int main(int argc, char** argv) {
  namespace pb = pulsedb::sync::v1;
  using pulse::storage::LocalWrite;
  if (argc != 3) return 2;
  const int report_fd = std::atoi(argv[2]);
  absl::StatusOr<std::unique_ptr<pulse::storage::Store>> store =
      pulse::storage::Store::Open(argv[1]);
  if (!store.ok()) return 3;
  const std::string c = (*store)->CreateCollective(pulse::testing::MakeCollective())->id;
  std::vector<std::string> live;
  std::mt19937 rng(42);
  for (;;) {
    absl::StatusOr<LocalWrite> w;
    const int action = live.size() < 3 ? 0 : static_cast<int>(rng() % 5);
    if (action <= 1) {
      w = (*store)->CreateExperience(pulse::testing::MakeExperience(c));
      if (w.ok()) live.push_back(w->id);
    } else if (action == 2) {
      pb::ExperienceUpdate u;
      u.set_importance(static_cast<float>(rng() % 100) / 100.0f);
      w = (*store)->UpdateExperience(live[rng() % live.size()], u);
    } else if (action == 3) {
      w = (*store)->CreateRelation(pulse::testing::MakeRelation(live[0], live.back()));
    } else {
      const size_t k = rng() % live.size();
      w = (*store)->DeleteExperience(live[k]);
      live.erase(live.begin() + static_cast<long>(k));
    }
    if (!w.ok()) continue;  // e.g. a relation between the same two experiences
    const uint64_t seq = w->sequence;
    if (write(report_fd, &seq, sizeof seq) != sizeof seq) return 4;
  }
}
