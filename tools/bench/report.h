// Report: the figures of one benchmark run and the ratios checked against their targets,
// printed as one Markdown table (docs/benchmarks.md shows the same form). Each figure
// carries the scenario that produced it. Thread-compatible.
#ifndef PULSESYNC_TOOLS_BENCH_REPORT_H_
#define PULSESYNC_TOOLS_BENCH_REPORT_H_

#include <ostream>
#include <string>
#include <vector>

namespace pulse::bench {

class Report {
 public:
  void Add(std::string name, double value, std::string unit, std::string note = "");
  // A ratio with its target: met when value >= target (or <= target when !at_least).
  void AddRatio(std::string name, double value, double target, bool at_least = true,
                std::string note = "");

  // Prints the figures, then the ratios with PASS/FAIL, as Markdown tables.
  void Print(std::ostream& out) const;
  bool AllRatiosMet() const;
  bool empty() const { return figures_.empty() && ratios_.empty(); }

 private:
  struct Figure {
    std::string name;
    double value;
    std::string unit;
    std::string note;
  };
  struct Ratio {
    std::string name;
    double value;
    double target;
    bool at_least;
    std::string note;
    bool met() const { return at_least ? value >= target : value <= target; }
  };
  std::vector<Figure> figures_;
  std::vector<Ratio> ratios_;
};

// A value with three significant digits (and thousands kept whole): 0.00123, 4.56, 78.9,
// 123456.
std::string FormatValue(double value);

}  // namespace pulse::bench

#endif  // PULSESYNC_TOOLS_BENCH_REPORT_H_
