#include "server/work_gate.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "absl/time/clock.h"

namespace pulse::server {

int WorkGate::UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return CPU_COUNT(&set);
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

WorkGate::WorkGate(int slots) : slots_(std::max(1, slots)) {
  for (int slot = slots_ - 1; slot >= 0; --slot) free_.push_back(slot);
}

WorkGate::Pass::Pass(WorkGate& gate) : gate_(gate) {
  MutexLock lock(&gate_.mu_);
  if (gate_.held_ >= gate_.slots_) {
    const absl::Time start = absl::Now();
    ++gate_.waiting_;
    while (gate_.held_ >= gate_.slots_) gate_.freed_.Wait(&gate_.mu_);
    --gate_.waiting_;
    gate_.waited_ += absl::Now() - start;
  }
  ++gate_.held_;
  slot_ = gate_.free_.back();
  gate_.free_.pop_back();
}

WorkGate::Pass::~Pass() {
  {
    MutexLock lock(&gate_.mu_);
    --gate_.held_;
    gate_.free_.push_back(slot_);
  }
  gate_.freed_.Signal();
}

int WorkGate::held() const {
  MutexLock lock(&mu_);
  return held_;
}

absl::Duration WorkGate::waited() const {
  MutexLock lock(&mu_);
  return waited_;
}

int WorkGate::waiting() const {
  MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace pulse::server
