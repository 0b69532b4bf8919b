#include "tools/bench/db_bench_baseline.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/support/process.h"
#include "tools/bench/temp_store.h"

namespace pulse::bench {

absl::StatusOr<FillseqFigures> RunFillseq(const std::string& db_bench, uint64_t num, int value_size,
                                          int batch, bool sync, double compression_ratio,
                                          const std::string& preload) {
  const std::string dir = MakeTempDir("pulse-bench-dbbench");
  std::vector<std::string> args = {db_bench,
                                   "--benchmarks=fillseq",
                                   "--db=" + dir,
                                   absl::StrCat("--num=", num),
                                   absl::StrCat("--value_size=", value_size),
                                   "--key_size=16",
                                   absl::StrCat("--batch_size=", batch),
                                   absl::StrCat("--sync=", sync ? 1 : 0),
                                   absl::StrCat("--compression_ratio=", compression_ratio),
                                   "--threads=1"};
  FillseqFigures figures;
  figures.command = absl::StrJoin(args, " ");
  // With a preload, db_bench also gets the hub's malloc settings (pulse_hub's default
  // --malloc_keep_free_mb=256, server/allocator_tuning.h), as glibc tunables.
  constexpr char kHubMalloc[] =
      "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456";
  if (!preload.empty()) {
    figures.command = absl::StrCat(kHubMalloc, " LD_PRELOAD=", preload, " ", figures.command);
  }
  // Its progress lines go to stderr: keep them off the report. A process's I/O counters
  // include those of the children it reaped, so the shell prints db_bench's afterwards.
  // The preload travels in the environment the shell passes on.
  const std::string script =
      preload.empty() ? "\"$0\" \"$@\" 2>/dev/null; cat /proc/$$/io"
                      : absl::StrCat(kHubMalloc,
                                     " LD_PRELOAD=\"$PULSE_PRELOAD\" \"$0\" \"$@\" 2>/dev/null; "
                                     "cat /proc/$$/io");
  if (!preload.empty()) setenv("PULSE_PRELOAD", preload.c_str(), 1);
  const std::vector<std::string> argv = {"/bin/sh", "-c", script};
  std::vector<std::string> full = argv;
  full.insert(full.end(), args.begin(), args.end());
  std::optional<std::string> line;
  {
    testing::ChildProcess child(full);
    line = child.WaitForLine("fillseq", absl::Minutes(10));
    std::optional<std::string> wchar = child.WaitForLine("wchar:", absl::Minutes(1));
    if (wchar.has_value()) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(wchar->substr(wchar->find(':') + 1)),
                       &figures.written_bytes);
    }
    child.Wait(absl::Minutes(1));
  }
  RemoveTree(dir);
  // "fillseq      :       2.4 micros/op 414386 ops/sec 0.241 seconds 100000 operations; ..."
  if (!line.has_value()) return absl::InternalError("db_bench printed no fillseq line");
  std::vector<std::string> words = absl::StrSplit(*line, ' ', absl::SkipEmpty());
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "ops/sec" && absl::SimpleAtod(words[i - 1], &figures.ops_per_second)) {
      figures.value_bytes_per_second = figures.ops_per_second * value_size;
      return figures;
    }
  }
  return absl::InternalError(absl::StrCat("cannot read db_bench's line: ", *line));
}

}  // namespace pulse::bench
