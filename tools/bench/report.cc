#include "tools/bench/report.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_format.h"

namespace pulse::bench {

std::string FormatValue(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1000) return absl::StrFormat("%.0f", value);
  if (magnitude >= 100) return absl::StrFormat("%.1f", value);
  if (magnitude >= 10) return absl::StrFormat("%.2f", value);
  if (magnitude >= 1 || magnitude == 0) return absl::StrFormat("%.3f", value);
  return absl::StrFormat("%.3g", value);
}

void Report::Add(std::string name, double value, std::string unit, std::string note) {
  figures_.push_back(Figure{std::move(name), value, std::move(unit), std::move(note)});
}

void Report::AddRatio(std::string name, double value, double target, bool at_least,
                      std::string note) {
  ratios_.push_back(Ratio{std::move(name), value, target, at_least, std::move(note)});
}

void Report::Print(std::ostream& out) const {
  if (!figures_.empty()) {
    out << "| figure | value | unit | note |\n|---|---:|---|---|\n";
    for (const Figure& f : figures_) {
      out << "| " << f.name << " | " << FormatValue(f.value) << " | " << f.unit << " | " << f.note
          << " |\n";
    }
  }
  if (!ratios_.empty()) {
    out << "\n| ratio | value | target | result | note |\n|---|---:|---|---|---|\n";
    for (const Ratio& r : ratios_) {
      out << "| " << r.name << " | " << FormatValue(r.value) << " | "
          << (r.at_least ? ">= " : "<= ") << FormatValue(r.target) << " | "
          << (r.met() ? "PASS" : "FAIL") << " | " << r.note << " |\n";
    }
  }
  out.flush();
}

bool Report::AllRatiosMet() const {
  for (const Ratio& r : ratios_) {
    if (!r.met()) return false;
  }
  return true;
}

}  // namespace pulse::bench
