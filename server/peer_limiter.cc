#include "server/peer_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "storage/ids.h"

namespace pulse::server {

PeerLimiter::PeerLimiter(double requests_per_second, double burst, int max_streams)
    : rate_(requests_per_second),
      burst_(std::max(burst, requests_per_second > 0 ? 1.0 : 0.0)),
      max_streams_(max_streams) {}

absl::Status PeerLimiter::AdmitRequest(const std::string& peer, absl::Time now) {
  if (rate_ <= 0) return absl::OkStatus();
  MutexLock lock(&mu_);
  Bucket& bucket = buckets_[peer];
  if (bucket.refilled == absl::InfinitePast()) {
    bucket.tokens = burst_;
  } else {
    const double elapsed = absl::ToDoubleSeconds(now - bucket.refilled);
    bucket.tokens = std::min(burst_, bucket.tokens + std::max(0.0, elapsed) * rate_);
  }
  bucket.refilled = now;
  if (bucket.tokens < 1.0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("peer ", storage::IdToText(peer), " is over its limit of ", rate_,
                     " requests per second; retry after a backoff"));
  }
  bucket.tokens -= 1.0;
  return absl::OkStatus();
}

absl::Status PeerLimiter::AcquireStream(const std::string& peer) {
  MutexLock lock(&mu_);
  int& open = streams_[peer];
  if (max_streams_ > 0 && open >= max_streams_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "peer ", storage::IdToText(peer), " already has ", open, " open streams, the limit"));
  }
  ++open;
  return absl::OkStatus();
}

void PeerLimiter::ReleaseStream(const std::string& peer) {
  MutexLock lock(&mu_);
  auto it = streams_.find(peer);
  if (it == streams_.end()) return;
  if (--it->second <= 0) streams_.erase(it);
}

}  // namespace pulse::server
