// PeerLimiter: per-peer admission limits, so one misbehaving or runaway peer cannot take
// the hub from the others: a token bucket of requests per second (with a burst), and a
// cap on concurrently open streams. Over a limit is RESOURCE_EXHAUSTED, which peers treat
// as retryable with backoff. Thread-safe.
#ifndef PULSESYNC_SERVER_PEER_LIMITER_H_
#define PULSESYNC_SERVER_PEER_LIMITER_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace pulse::server {

class PeerLimiter {
 public:
  // 0 disables the corresponding limit.
  PeerLimiter(double requests_per_second, double burst, int max_streams);

  // Takes one request token of `peer` at `now`.
  absl::Status AdmitRequest(const std::string& peer, absl::Time now);
  // Reserves one stream slot of `peer`; pair with ReleaseStream.
  absl::Status AcquireStream(const std::string& peer);
  void ReleaseStream(const std::string& peer);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled = absl::InfinitePast();
  };

  const double rate_;
  const double burst_;
  const int max_streams_;
  Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_PEER_LIMITER_H_
