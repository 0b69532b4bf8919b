// Eventually: waits until a condition holds, re-checking it at short intervals, up to a
// deadline. For conditions that another thread or process makes true (a peer converging),
// where there is no single event to wait on. Returns whether it held in time.
#ifndef PULSESYNC_TESTS_SUPPORT_EVENTUALLY_H_
#define PULSESYNC_TESTS_SUPPORT_EVENTUALLY_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pulse::testing {

inline bool Eventually(const std::function<bool()>& condition,
                       absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));  // re-check period, not synchronization
  }
}

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_EVENTUALLY_H_
