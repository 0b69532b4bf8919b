// TempStore: a Store in a fresh temporary directory (under $TEST_TMPDIR when Bazel sets
// it, else /tmp), removed with everything in it on destruction. For the benchmarks.
// Not thread-safe itself; the Store is.
#ifndef PULSESYNC_TOOLS_BENCH_TEMP_STORE_H_
#define PULSESYNC_TOOLS_BENCH_TEMP_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace pulse::bench {

// A fresh empty directory; the caller removes it (RemoveTree).
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

class TempStore {
 public:
  static absl::StatusOr<std::unique_ptr<TempStore>> Open(const storage::StoreOptions& options);
  ~TempStore();

  storage::Store& store() { return *store_; }
  const std::string& directory() const { return directory_; }

 private:
  TempStore(std::string directory, std::unique_ptr<storage::Store> store)
      : directory_(std::move(directory)), store_(std::move(store)) {}
  std::string directory_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_TEMP_STORE_H_
