#include "server/process_stats.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pulse::server {

absl::StatusOr<ProcessStats> ParseProcStatus(absl::string_view text) {
  std::optional<uint64_t> rss_kib, threads;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = line.substr(0, colon);
    if (key != "VmRSS" && key != "Threads") continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line.substr(colon + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    uint64_t value = 0;
    if (words.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(words[0]), &value)) {
      return absl::InvalidArgumentError(absl::StrCat("malformed ", key, " line: ", line));
    }
    if (key == "VmRSS") {
      // The kernel always reports it in kB (KiB).
      if (words.size() < 2 || absl::StripAsciiWhitespace(words[1]) != "kB") {
        return absl::InvalidArgumentError(absl::StrCat("unexpected VmRSS unit: ", line));
      }
      rss_kib = value;
    } else {
      threads = value;
    }
  }
  if (!rss_kib.has_value() || !threads.has_value()) {
    return absl::InvalidArgumentError("VmRSS or Threads missing from the status text");
  }
  return ProcessStats{*rss_kib * 1024, *threads};
}

absl::StatusOr<ProcessStats> ReadProcessStats(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseProcStatus(text.str());
}

}  // namespace pulse::server
