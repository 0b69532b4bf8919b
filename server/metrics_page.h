// RenderMetricsPage: the hub's whole /metrics page: the log's head and oldest entry, per
// peer (label `peer`, its instance id as text) the served cursor, lag in changes and in
// seconds, last contact, open Subscribe streams and whether it is expired; the event
// counters and histograms of HubMetrics; RocksDB's size estimates; the process's resident
// memory and threads. Per-peer numbers come from BuildHubStatus, the same that
// SyncAdmin.Status returns. Observers (capability "observe") have no per-peer series:
// they hold no cursor. Every metric is listed in docs/operations.md. Thread-safe; reads
// the store. Storage errors as they come.
#ifndef PULSESYNC_SERVER_METRICS_PAGE_H_
#define PULSESYNC_SERVER_METRICS_PAGE_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/hub_context.h"

namespace pulse::server {

absl::StatusOr<std::string> RenderMetricsPage(HubContext& hub);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_METRICS_PAGE_H_
