#include "tools/bench/temp_store.h"

#include <cstdlib>
#include <filesystem>

namespace pulse::bench {

std::string MakeTempDir(const std::string& prefix) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(root != nullptr ? root : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

void RemoveTree(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

absl::StatusOr<std::unique_ptr<TempStore>> TempStore::Open(const storage::StoreOptions& options) {
  std::string directory = MakeTempDir("pulse-bench-store");
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(directory, options);
  if (!store.ok()) {
    RemoveTree(directory);
    return store.status();
  }
  return std::unique_ptr<TempStore>(new TempStore(std::move(directory), std::move(*store)));
}

TempStore::~TempStore() {
  store_.reset();
  RemoveTree(directory_);
}

}  // namespace pulse::bench
