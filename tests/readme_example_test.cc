// The C++ example in README.md, verbatim (docs_examples_test checks that it stays so),
// run against a real hub.
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

class ReadmeExample : public testing::HubFixture {};

TEST_F(ReadmeExample, EmbeddingAPeerSyncsThroughTheHub) {
  hub_options().listen_address = "127.0.0.1:0";
  StartHub();
  // Another peer has shared a collective through the hub.
  auto other = NewPeerStore("other");
  const std::string shared = other->CreateCollective(testing::MakeCollective("shared"))->id;
  ASSERT_TRUE(Handshake(*other).ok());
  pulsedb::sync::v1::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*other, 0, &pushed).ok());
  // The application's own memory already holds a collective of its own.
  const std::string data_dir = dir_.Sub("agent-memory");
  std::string collective;
  {
    auto existing = *storage::Store::Open(data_dir);
    collective = existing->CreateCollective(testing::MakeCollective("mine"))->id;
  }
  pulsedb::sync::v1::Experience experience = testing::MakeExperience(collective);
  const std::string hub_address = hub().address();
  {
    // --- README.md, verbatim ---
    // clang-format off
    auto store = *pulse::storage::Store::Open(data_dir);   // e.g. "./agent-memory"
    pulse::client::GrpcTransportOptions hub;
    hub.target = hub_address;                               // e.g. "127.0.0.1:7070"
    pulse::client::SyncManager sync(store.get(),
                                    std::make_shared<pulse::client::GrpcSyncTransport>(hub), {});
    absl::Status started = sync.Start();                // handshake, then push/pull in the background
    auto written = store->CreateExperience(experience);     // pushed at once, relayed to every other peer
    // clang-format on
    // --- end of the README example ---
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_TRUE(testing::Eventually(
        [&] { return this->hub().context().store().GetExperience(experience.id()).ok(); }));
    EXPECT_TRUE(testing::Eventually([&] { return store->GetCollective(shared).ok(); }));
  }
}

}  // namespace
}  // namespace pulse
