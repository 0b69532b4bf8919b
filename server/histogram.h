// Histogram: a Prometheus histogram with fixed upper bounds: counts of observations at or
// below each bound, their sum and their count. Observe is cheap (a short lock) and safe
// from any thread; Write renders the _bucket/_sum/_count samples of one series under a
// family the caller has started. Thread-safe.
#ifndef PULSESYNC_SERVER_HISTOGRAM_H_
#define PULSESYNC_SERVER_HISTOGRAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "server/prometheus_text.h"

namespace pulse::server {

// Bounds for request latencies in seconds: 250 µs to 10 s.
const std::vector<double>& LatencyBucketsSeconds();
// Bounds for delivery delays in seconds: 1 ms to 10 minutes (catch-up included).
const std::vector<double>& DeliveryBucketsSeconds();

class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implied.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Counts {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Counts Read() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

  // Writes <family>_bucket{...,le="..."}, <family>_sum and <family>_count.
  void Write(PrometheusText& out, const std::string& family,
             const PrometheusText::Labels& labels = {}) const;

 private:
  const std::vector<double> bounds_;
  mutable Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket (not cumulative), +Inf last
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_HISTOGRAM_H_
