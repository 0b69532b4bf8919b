// PullReplyHead: the fields of a PullResponse that come before its changes on the wire.
// The hub frames has_more, new_cursor, responder_instance and head_sequence first
// (docs/protocol.md, "Pull"), so a peer paging through the log can read where this page
// ends and ask for the next one (with applied_through) before it parses the changes:
// the hub's reply to that request then travels while this page is parsed.
//
// Pure function; thread-safe. Never fails: a reply it cannot read this way (changes
// first, as another responder may frame it; malformed) gives nullopt, and the caller
// parses the reply whole, as it would without this.
#ifndef PULSESYNC_CLIENT_PULL_REPLY_HEAD_H_
#define PULSESYNC_CLIENT_PULL_REPLY_HEAD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "grpcpp/support/byte_buffer.h"

namespace pulse::client {

struct PullReplyHead {
  bool has_more = false;
  std::string cursor_instance;  // new_cursor.instance_id
  uint64_t new_cursor = 0;      // new_cursor.last_sequence
  std::string responder_instance;
  uint64_t head_sequence = 0;
};

// The head of the serialized PullResponse in `reply`: every field before the first
// change, provided new_cursor is among them (else nullopt). Reads only those bytes.
std::optional<PullReplyHead> PeekPullReplyHead(const grpc::ByteBuffer& reply);

}  // namespace pulse::client

#endif  // PULSESYNC_CLIENT_PULL_REPLY_HEAD_H_
