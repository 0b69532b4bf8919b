// Workload: the benchmark's data, made deterministically from a seed: collectives with
// 384-dimensional embeddings and experiences with realistic text, about 1.7 KB each as a
// serialized SyncChange. Every figure in docs/benchmarks.md is measured on these.
// Thread-compatible: const methods may be called from many threads at once.
#ifndef PULSESYNC_TOOLS_BENCH_WORKLOAD_H_
#define PULSESYNC_TOOLS_BENCH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pulsedb/sync/v1/sync.pb.h"

namespace pulse::bench {

struct WorkloadOptions {
  int collectives = 4;
  uint32_t dimension = 384;
  uint64_t seed = 1;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options = {});

  const std::vector<pulsedb::sync::v1::Collective>& collectives() const { return collectives_; }

  // The creates of every collective as changes of `origin`, sequences 1..collectives().
  std::vector<pulsedb::sync::v1::SyncChange> CollectiveChanges(const std::string& origin) const;

  // Experience number `index` (any uint64): a distinct id, a collective chosen by index,
  // text and an embedding derived from the seed and the index.
  pulsedb::sync::v1::Experience MakeExperience(uint64_t index) const;
  // Its create as a change of `origin` with origin sequence `sequence`.
  pulsedb::sync::v1::SyncChange ExperienceChange(const std::string& origin, uint64_t sequence,
                                                 uint64_t index) const;
  // `count` creates of `origin`, sequences first_sequence.., experiences first_index..
  pulsedb::sync::v1::PushRequest PushBatch(const std::string& origin, uint64_t first_sequence,
                                           uint64_t first_index, int count) const;

  // A distinct 16-byte id for benchmark actor number `n` (peers, loaders).
  static std::string ActorId(uint64_t n);

 private:
  WorkloadOptions options_;
  std::vector<pulsedb::sync::v1::Collective> collectives_;
};

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_WORKLOAD_H_
