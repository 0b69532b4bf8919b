#include "storage/apply_guard.h"

namespace pulse::storage {
namespace {
thread_local int apply_depth = 0;
}  // namespace

SyncApplyGuard::SyncApplyGuard() { ++apply_depth; }
SyncApplyGuard::~SyncApplyGuard() { --apply_depth; }
bool SyncApplyGuard::IsApplying() { return apply_depth > 0; }

}  // namespace pulse::storage
