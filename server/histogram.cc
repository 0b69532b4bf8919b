#include "server/histogram.h"

#include <algorithm>
#include <utility>

namespace pulse::server {

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double>* const kBounds = new std::vector<double>{
      0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBounds;
}

const std::vector<double>& DeliveryBucketsSeconds() {
  static const std::vector<double>* const kBounds = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
  return *kBounds;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // The first bound >= value: Prometheus buckets are "less than or equal".
  const std::size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  MutexLock lock(&mu_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Counts Histogram::Read() const {
  Counts out;
  MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    out.cumulative.push_back(running);
  }
  out.sum = sum_;
  out.count = count_;
  return out;
}

void Histogram::Write(PrometheusText& out, const std::string& family,
                      const PrometheusText::Labels& labels) const {
  const Counts counts = Read();
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    PrometheusText::Labels with_le = labels;
    with_le.emplace_back(
        "le", i < bounds_.size() ? PrometheusText::FormatNumber(bounds_[i]) : std::string("+Inf"));
    out.Sample(family + "_bucket", with_le, counts.cumulative[i]);
  }
  out.Sample(family + "_sum", labels, counts.sum);
  out.Sample(family + "_count", labels, counts.count);
}

}  // namespace pulse::server
