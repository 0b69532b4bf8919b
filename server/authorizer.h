// Authorizer: bearer tokens and what each may do. Loaded from a token file, one token per
// line ('#' starts a comment):
//
//   <token> read=<collective-id>,...|* write=<collective-id>,...|* [admin]
//
// A request must carry `authorization: Bearer <token>`; a missing or unknown token is
// UNAUTHENTICATED. Reads (Pull, Subscribe, Snapshot) only ever see the collectives the
// token may read; a push touching a collective it may not write is PERMISSION_DENIED;
// SyncAdmin needs `admin`. Tokens are compared in constant time and never logged.
// Without a token file every request is allowed (Authorizer::AllowAll).
// Immutable after construction: thread-safe.
#ifndef PULSESYNC_SERVER_AUTHORIZER_H_
#define PULSESYNC_SERVER_AUTHORIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace pulse::server {

// What one token may do.
struct Grant {
  bool read_all = false;
  absl::flat_hash_set<std::string> read;  // 16-byte collective ids
  bool write_all = false;
  absl::flat_hash_set<std::string> write;
  bool admin = false;
  std::string name;  // "token #<line>", for logs (never the token itself)

  bool CanRead(absl::string_view collective) const { return read_all || read.contains(collective); }
  bool CanWrite(absl::string_view collective) const {
    return write_all || write.contains(collective);
  }
};

class Authorizer {
 public:
  // Everything allowed: no token file.
  static std::unique_ptr<Authorizer> AllowAll();
  // INVALID_ARGUMENT naming the line for a malformed file; NOT_FOUND when unreadable.
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromText(absl::string_view text);

  bool enabled() const { return enabled_; }

  // The grant of the request's bearer token. UNAUTHENTICATED when auth is on and the
  // token is missing, malformed or unknown.
  absl::StatusOr<Grant> Authenticate(const grpc::ServerContextBase& context) const;

 private:
  Authorizer() = default;
  bool enabled_ = false;
  std::vector<std::pair<std::string, Grant>> tokens_;
};

// Restricts a requested collective filter to what `grant` may read. An empty request
// means "all I may read". PERMISSION_DENIED when a requested collective is not readable.
absl::StatusOr<std::vector<std::string>> ReadableCollectives(
    const Grant& grant, const std::vector<std::string>& requested);

}  // namespace pulse::server

#endif  // PULSESYNC_SERVER_AUTHORIZER_H_
