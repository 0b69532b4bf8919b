// WorkGate: at most `slots` holders at once; Pass blocks until a slot is free.
//
// The hub passes the CPU-heavy part of every push through one gate with a slot per core
// (HubOptions::push_concurrency): a PushStream's parse, checks, staging and the freeing
// of the parsed request; a unary Push's parse (its staging may write and fsync on its
// own thread). However many pushes are in flight, no more of them run at once than there
// are cores to run them: ungated, 16 streams on the 8 pool threads cost the hub 1.2 s of CPU
// for 96,000 changes against 0.88 s for one peer's 100,000 (more threads runnable than
// cores, each parsing a request received long before); gated, 0.9-1.0 s, and push
// ingest with 16 peers 1.17x (docs/benchmarks.md). A holder makes no I/O of its own: a
// stream may wait for the commit writer to take a group, never for its own fsync.
//
// Thread-safe. A Pass must not outlive its gate.
#ifndef PULSESYNC_SERVER_WORK_GATE_H_
#define PULSESYNC_SERVER_WORK_GATE_H_

#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"

namespace pulse::server {

class WorkGate {
 public:
  // `slots` >= 1 (fewer means 1).
  explicit WorkGate(int slots);
  WorkGate(const WorkGate&) = delete;
  WorkGate& operator=(const WorkGate&) = delete;

  // The cores this process may run on (its CPU affinity, which a container's cpuset
  // narrows), at least 1: the default number of slots.
  static int UsableCores();

  // Holds a slot from construction (blocking until one is free) to destruction.
  class Pass {
   public:
    explicit Pass(WorkGate& gate);
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

    // Which slot, in [0, slots()): no other pass holds it meanwhile, so state kept per
    // slot (the hub's push parsers) is this holder's alone.
    int slot() const { return slot_; }

   private:
    WorkGate& gate_;
    int slot_;
  };

  int slots() const { return slots_; }
  // Holders now, and passes blocked waiting for a slot.
  int held() const;
  int waiting() const;
  // Time passes have spent waiting for a slot, in all (pulse_push_gate_wait_seconds_total:
  // when it grows about as fast as the clock, pushes queue for the CPU).
  absl::Duration waited() const;

 private:
  const int slots_;
  mutable Mutex mu_;
  CondVar freed_;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);  // slots not held
  absl::Duration waited_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_WORK_GATE_H_
