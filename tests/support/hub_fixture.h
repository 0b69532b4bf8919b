// HubFixture: a real hub (server::Hub) on 127.0.0.1:0 over a RocksDB store in a temporary
// directory, with generated stubs to call it, and helpers that act as a peer would with a
// local store. For integration tests; not thread-safe unless noted.
#ifndef PULSESYNC_TESTS_SUPPORT_HUB_FIXTURE_H_
#define PULSESYNC_TESTS_SUPPORT_HUB_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pulsedb/sync/v1/sync.grpc.pb.h"
#include "server/hub.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace pulse::testing {

class HubFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options the next StartHub uses; tests may adjust them first.
  server::HubOptions& hub_options() { return hub_options_; }
  void StartHub();
  void StopHub();
  server::Hub& hub() { return *hub_; }
  pulsedb::sync::v1::SyncService::Stub& stub() { return *stub_; }
  pulsedb::sync::v1::SyncAdmin::Stub& admin() { return *admin_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  // A local store acting as a peer (not a hub).
  std::unique_ptr<storage::Store> NewPeerStore(const std::string& name);

  grpc::Status Handshake(const storage::Store& peer,
                         pulsedb::sync::v1::HandshakeResponse* out = nullptr);
  // Pushes the peer's own changes after `after` (one request).
  grpc::Status PushOwn(const storage::Store& peer, uint64_t after,
                       pulsedb::sync::v1::PushResponse* response);
  grpc::Status Pull(const storage::Store& peer, uint64_t cursor, uint32_t batch,
                    pulsedb::sync::v1::PullResponse* response,
                    const std::vector<std::string>& collectives = {});
  // Pulls everything after the peer's stored pull cursor and applies it, as a follower,
  // until has_more is false. Returns the number of changes applied.
  int PullAndApply(storage::Store& peer);

  pulsedb::sync::v1::PushRequest OwnChangesRequest(const storage::Store& peer, uint64_t after);

  TempDir dir_;
  server::HubOptions hub_options_;
  std::unique_ptr<server::Hub> hub_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pulsedb::sync::v1::SyncService::Stub> stub_;
  std::unique_ptr<pulsedb::sync::v1::SyncAdmin::Stub> admin_;
};

// A client context with a deadline, so no test call can hang.
std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout = absl::Seconds(20));

}  // namespace pulse::testing

#endif  // PULSESYNC_TESTS_SUPPORT_HUB_FIXTURE_H_
