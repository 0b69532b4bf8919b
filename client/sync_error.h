// SyncError: the kinds of failure a peer reports (the original's SyncError), carried as a
// typed payload on an absl::Status so that callers switch on a kind, not on text.
// Pure functions; thread-safe.
#ifndef PULSESYNC_CLIENT_SYNC_ERROR_H_
#define PULSESYNC_CLIENT_SYNC_ERROR_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pulse::client {

enum class SyncErrorKind {
  kTransport,          // the hub could not be reached or answered unexpectedly
  kHandshake,          // the hub refused the handshake (or its settings do not match ours)
  kSerialization,      // a message could not be encoded or decoded
  kTimeout,            // a call's deadline passed
  kConnectionLost,     // the connection dropped (hub restarting, network)
  kProtocolVersion,    // the hub speaks another protocol version
  kInvalidPayload,     // the hub (or we) refused malformed data
  kCursorNotFound,     // our pull cursor is older than the hub's retained log
  kShutdown,           // the manager is stopping
  kPeerChanged,        // the hub answering is not the one our cursors belong to
  kChangeTooLarge,     // one change exceeds the message budget: it can never be sent
  kCatchUpIncomplete,  // initial sync could not reach the end of the hub's log
};

absl::string_view SyncErrorKindName(SyncErrorKind kind);

// A status of `code` with `message` and `kind` attached.
absl::Status MakeSyncError(SyncErrorKind kind, absl::StatusCode code, absl::string_view message);
// Attaches `kind` to an existing status (which keeps its code, message and payloads).
absl::Status WithSyncErrorKind(absl::Status status, SyncErrorKind kind);
std::optional<SyncErrorKind> SyncErrorOf(const absl::Status& status);

// Errors that retrying cannot fix: the background loop stops on them.
bool IsTerminal(const absl::Status& status);

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_SYNC_ERROR_H_
