// WireBufferPool: buffers for the pages the hub frames itself (Pull replies, Subscribe
// events, pages read ahead), kept after gRPC has sent them and handed out again. A page
// is about a megabyte built by appending; a fresh buffer for each costs the kernel a
// page fault and a zeroed page for every 4 KiB of it (a fifth of the hub's CPU while
// peers catch up, by perf), and a reused one costs nothing.
//
// Holds at most `max_buffers` buffers and `max_bytes` of capacity; a buffer smaller than
// kMinKeptBytes (not worth it) or larger than `max_bytes / max_buffers` is freed rather
// than kept. Thread-safe.
#ifndef PULSESYNC_SERVER_WIRE_BUFFER_POOL_H_
#define PULSESYNC_SERVER_WIRE_BUFFER_POOL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"

namespace pulse::server {

class WireBufferPool {
 public:
  static constexpr std::size_t kMinKeptBytes = 64 << 10;

  WireBufferPool(std::size_t max_buffers, std::size_t max_bytes);
  WireBufferPool(const WireBufferPool&) = delete;
  WireBufferPool& operator=(const WireBufferPool&) = delete;

  // The process's pool (32 buffers, 64 MiB at most), for the buffers gRPC frees on its
  // own threads whenever it is done with them: it outlives every hub.
  static WireBufferPool& Shared();

  // An empty buffer, with the capacity of one given back earlier when there is one.
  std::unique_ptr<std::string> Take();
  // Keeps `buffer` (emptied) for a later Take, or frees it when the pool is full.
  void Give(std::unique_ptr<std::string> buffer);
  // `buffer`, read-only from now on, for several owners: given back to this pool when the
  // last of them lets go (the pool must outlive them all, as Shared() does).
  std::shared_ptr<const std::string> Share(std::unique_ptr<std::string> buffer);

  std::size_t held_buffers() const;
  std::size_t held_bytes() const;

 private:
  const std::size_t max_buffers_;
  const std::size_t max_bytes_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<std::string>> held_ ABSL_GUARDED_BY(mu_);
  std::size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_WIRE_BUFFER_POOL_H_
