// TempDir: a fresh directory under the test's temporary root (TEST_TMPDIR under Bazel),
// removed with everything in it when the object is destroyed. Not thread-safe.
#ifndef PULSESYNC_TESTS_SUPPORT_TEMP_DIR_H_
#define PULSESYNC_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace pulse::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_TEMP_DIR_H_
