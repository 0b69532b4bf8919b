// SyncApplyGuard: marks the current thread as applying remote changes (RAII, the
// original's echo-prevention guard). While one is alive on a thread, the store refuses
// local writes from that thread, so nothing applied from a peer is ever recorded as this
// instance's own change and pushed back. Guards nest; each thread has its own state.
#ifndef PULSESYNC_STORAGE_APPLY_GUARD_H_
#define PULSESYNC_STORAGE_APPLY_GUARD_H_

namespace pulse::storage {

class SyncApplyGuard {
 public:
  SyncApplyGuard();
  ~SyncApplyGuard();  // restores the previous state, also when unwinding
  SyncApplyGuard(const SyncApplyGuard&) = delete;
  SyncApplyGuard& operator=(const SyncApplyGuard&) = delete;

  // True while any guard is alive on the calling thread.
  static bool IsApplying();
};

}  // namespace pulse::storage

#endif  // PULSESYNC_STORAGE_APPLY_GUARD_H_
