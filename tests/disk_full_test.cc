// The hub's disk fills up: pushes fail with a clear, retryable status and nothing is
// half-applied; reads keep working; once space is back (and, if RocksDB's own recovery
// gave up meanwhile, after a restart) the peer's retried changes land exactly once.
#include "absl/strings/match.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "tests/support/entities.h"
#include "tests/support/eventually.h"
#include "tests/support/full_disk_file_system.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Deadline;

TEST(DiskFullStore, AFailedWriteChangesNothingAndWritesResumeWhenSpaceIsBack) {
  testing::TempDir dir;
  auto disk = std::make_shared<testing::FullDiskFileSystem>();
  storage::StoreOptions options;
  options.file_system = disk;
  auto store = *storage::Store::Open(dir.Sub("db"), options);
  const std::string c = store->CreateCollective(testing::MakeCollective())->id;
  const std::string before = *store->RawDump();
  disk->SetFull(true);
  absl::StatusOr<storage::LocalWrite> refused = store->CreateExperience(testing::MakeExperience(c));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "space")) << refused.status();
  EXPECT_EQ(store->log().Head(), 1u);
  EXPECT_TRUE(store->GetCollective(c).ok());  // reads still work
  disk->SetFull(false);
  EXPECT_EQ(*store->RawDump(), before);
  // Space is back. RocksDB may or may not have recovered on its own; after a restart it
  // certainly has.
  store.reset();
  store = *storage::Store::Open(dir.Sub("db"), options);
  absl::StatusOr<storage::LocalWrite> retried = store->CreateExperience(testing::MakeExperience(c));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->sequence, 2u);  // no sequence was burnt by the failures
}

class DiskFullHubTest : public testing::HubFixture {};

TEST_F(DiskFullHubTest, PushFailsCleanlyReadsContinueAndTheRetryLandsOnce) {
  auto disk = std::make_shared<testing::FullDiskFileSystem>();
  hub_options().file_system = disk;
  StartHub();
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  ASSERT_TRUE(Handshake(*a).ok());
  ASSERT_TRUE(Handshake(*b).ok());
  const std::string c = a->CreateCollective(testing::MakeCollective())->id;
  pb::PushResponse pushed;
  ASSERT_TRUE(PushOwn(*a, 0, &pushed).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->CreateExperience(testing::MakeExperience(c)).ok());
  const std::string before = *hub().context().store().RawDump();

  disk->SetFull(true);
  grpc::Status failed = stub().Push(Deadline().get(), OwnChangesRequest(*a, 1), &pushed);
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::UNAVAILABLE) << failed.error_message();
  EXPECT_TRUE(absl::StrContains(failed.error_message(), "space")) << failed.error_message();
  pb::PullResponse pulled;
  ASSERT_TRUE(Pull(*b, 0, 100, &pulled).ok());  // the hub keeps serving reads
  EXPECT_EQ(pulled.changes_size(), 1);
  pb::HandshakeResponse welcome;
  EXPECT_TRUE(Handshake(*b, &welcome).ok());
  disk->SetFull(false);
  EXPECT_EQ(*hub().context().store().RawDump(), before) << "a failed push left something behind";

  // Space is back; the hub is restarted (RocksDB may refuse writes until then) and the
  // peer's manager retries: everything lands once.
  const int port = hub().port();
  StopHub();
  hub_options().listen_address = "127.0.0.1:" + std::to_string(port);
  StartHub();
  client::GrpcTransportOptions options;
  options.target = hub().address();
  client::SyncManager manager(a.get(), std::make_shared<client::GrpcSyncTransport>(options), {});
  EXPECT_TRUE(testing::Eventually([&] { return manager.SyncOnce().ok(); }, absl::Seconds(20)));
  EXPECT_EQ(hub().context().store().log().Head(), 4u);
  EXPECT_EQ(*hub().context().store().CanonicalDump(), *a->CanonicalDump());
}

}  // namespace
}  // namespace pulse
