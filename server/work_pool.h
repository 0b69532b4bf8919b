// WorkPool: a fixed set of threads running queued tasks in FIFO order. The hub runs
// storage work here (fsyncs, scans) so that gRPC's callback threads never block.
// Thread-safe. The destructor drains the queue, then joins.
#ifndef PULSESYNC_SERVER_WORK_POOL_H_
#define PULSESYNC_SERVER_WORK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace pulse::server {

class WorkPool {
 public:
  explicit WorkPool(int threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void Schedule(std::function<void()> task);

 private:
  void Run();

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_WORK_POOL_H_
