// PrometheusText: builds one page in the Prometheus text exposition format, version
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/): a HELP and a TYPE
// line per metric family, then its samples. Label values are escaped; numbers are
// written in their shortest form that reads back exactly. The caller keeps to the naming
// rules (counters end in _total, units in names); nothing here checks them, promtool
// does (tests/metrics_test.cc). Not thread-safe: one per scrape.
#ifndef PULSESYNC_SERVER_PROMETHEUS_TEXT_H_
#define PULSESYNC_SERVER_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace pulse::server {

// The Content-Type of a page in this format.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kCounter, kGauge, kHistogram };

  // Starts a family: the samples that follow, up to the next Family, belong to it.
  void Family(absl::string_view name, Type type, absl::string_view help);
  // `name` is the family's name, or for a histogram the family's name with _bucket,
  // _sum or _count.
  void Sample(absl::string_view name, const Labels& labels, double value);
  void Sample(absl::string_view name, const Labels& labels, uint64_t value);
  // Shorthands for a family with a single unlabelled sample.
  void Gauge(absl::string_view name, absl::string_view help, double value);
  void Counter(absl::string_view name, absl::string_view help, uint64_t value);
  // A counter of a continuous quantity (seconds).
  void Counter(absl::string_view name, absl::string_view help, double value);

  const std::string& text() const { return text_; }

  // Exposed for tests: the escaping of a label value and the formatting of a number.
  static std::string EscapeLabelValue(absl::string_view value);
  static std::string FormatNumber(double value);

 private:
  void SampleText(absl::string_view name, const Labels& labels, absl::string_view value);

  std::string text_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PROMETHEUS_TEXT_H_
