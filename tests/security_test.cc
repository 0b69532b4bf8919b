// Transport security and per-peer limits on the real hub: TLS with certificates this test
// makes itself (server-authenticated and mutual), and requests-per-second and stream caps.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "client/grpc_sync_transport.h"
#include "client/sync_error.h"
#include "client/sync_manager.h"
#include "gtest/gtest.h"
#include "storage/ids.h"
#include "tests/support/entities.h"
#include "tests/support/hub_fixture.h"

namespace pulse {
namespace {

namespace pb = pulsedb::sync::v1;
using ::pulse::testing::Deadline;
using ::pulse::testing::MakeCollective;

// A CA and certificates it signed, made with the openssl command (EC keys: fast).
class TestPki {
 public:
  explicit TestPki(const std::string& dir) : dir_(dir) {
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout " +
        Path("ca.key") + " -out " + Path("ca.pem") + " -days 2 -subj /CN=pulse-test-ca");
    Issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    Issue("client", "pulse-peer", "extendedKeyUsage=clientAuth");
    // A second, unrelated CA: its certificates must not be trusted.
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout " +
        Path("other-ca.key") + " -out " + Path("other-ca.pem") + " -days 2 -subj /CN=someone-else");
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  void Issue(const std::string& name, const std::string& cn, const std::string& extension) {
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
        Path(name + ".key") + " -out " + Path(name + ".csr") + " -subj /CN=" + cn);
    Run("printf '" + extension + "' > " + Path(name + ".ext"));
    Run("openssl x509 -req -in " + Path(name + ".csr") + " -CA " + Path("ca.pem") + " -CAkey " +
        Path("ca.key") + " -CAcreateserial -out " + Path(name + ".pem") + " -days 2 -extfile " +
        Path(name + ".ext"));
  }
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }
  std::string dir_;
};

class SecurityTest : public testing::HubFixture {
 protected:
  absl::Status HandshakeOver(client::GrpcTransportOptions options) {
    options.target = absl::StrCat("127.0.0.1:", hub().port());
    options.request_timeout = absl::Seconds(5);
    client::GrpcSyncTransport transport(options);
    pb::HandshakeRequest hello;
    hello.set_instance_id(storage::NewUuidV7());
    hello.set_protocol_version(1);
    return transport.Handshake(hello).status();
  }
};

TEST_F(SecurityTest, TlsHubIsReachableOnlyWithTheRightCa) {
  std::system(("mkdir -p " + dir_.Sub("pki")).c_str());
  TestPki made(dir_.Sub("pki"));
  hub_options().tls_cert_file = made.Path("server.pem");
  hub_options().tls_key_file = made.Path("server.key");
  StartHub();
  client::GrpcTransportOptions trusted;
  trusted.tls_ca_file = made.Path("ca.pem");
  trusted.tls_server_name = "localhost";
  EXPECT_TRUE(HandshakeOver(trusted).ok());
  client::GrpcTransportOptions plaintext;
  EXPECT_EQ(HandshakeOver(plaintext).code(), absl::StatusCode::kUnavailable);
  client::GrpcTransportOptions wrong_ca = trusted;
  wrong_ca.tls_ca_file = made.Path("other-ca.pem");
  EXPECT_EQ(HandshakeOver(wrong_ca).code(), absl::StatusCode::kUnavailable);
  client::GrpcTransportOptions missing = trusted;
  missing.tls_ca_file = dir_.Sub("no-such-ca.pem");
  absl::Status unreadable = HandshakeOver(missing);
  EXPECT_EQ(client::SyncErrorOf(unreadable), client::SyncErrorKind::kHandshake);
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  std::system(("mkdir -p " + dir_.Sub("pki")).c_str());
  TestPki pki(dir_.Sub("pki"));
  hub_options().tls_cert_file = pki.Path("server.pem");
  hub_options().tls_key_file = pki.Path("server.key");
  hub_options().tls_client_ca_file = pki.Path("ca.pem");
  StartHub();
  client::GrpcTransportOptions with_cert;
  with_cert.tls_ca_file = pki.Path("ca.pem");
  with_cert.tls_server_name = "localhost";
  with_cert.tls_cert_file = pki.Path("client.pem");
  with_cert.tls_key_file = pki.Path("client.key");
  EXPECT_TRUE(HandshakeOver(with_cert).ok());
  client::GrpcTransportOptions without_cert = with_cert;
  without_cert.tls_cert_file.clear();
  without_cert.tls_key_file.clear();
  EXPECT_FALSE(HandshakeOver(without_cert).ok());
}

TEST_F(SecurityTest, AFullSyncRunsOverTls) {
  std::system(("mkdir -p " + dir_.Sub("pki")).c_str());
  TestPki pki(dir_.Sub("pki"));
  hub_options().tls_cert_file = pki.Path("server.pem");
  hub_options().tls_key_file = pki.Path("server.key");
  StartHub();
  auto a = NewPeerStore("a"), b = NewPeerStore("b");
  client::GrpcTransportOptions options;
  options.target = absl::StrCat("127.0.0.1:", hub().port());
  options.tls_ca_file = pki.Path("ca.pem");
  options.tls_server_name = "localhost";
  client::SyncManager ma(a.get(), std::make_shared<client::GrpcSyncTransport>(options), {});
  client::SyncManager mb(b.get(), std::make_shared<client::GrpcSyncTransport>(options), {});
  const std::string c = a->CreateCollective(MakeCollective())->id;
  ASSERT_TRUE(ma.SyncOnce().ok());
  ASSERT_TRUE(mb.SyncOnce().ok());
  EXPECT_TRUE(b->GetCollective(c).ok());
}

TEST_F(SecurityTest, APeerOverItsRequestRateIsResourceExhausted) {
  hub_options().peer_requests_per_second = 1;
  hub_options().peer_request_burst = 3;
  StartHub();
  auto a = NewPeerStore("a");
  ASSERT_TRUE(Handshake(*a).ok());  // 1 of the burst
  pb::PullRequest pull;
  pull.set_source_instance(a->instance_id());
  pb::PullResponse pulled;
  int ok = 0, exhausted = 0;
  for (int i = 0; i < 6; ++i) {
    grpc::Status status = stub().Pull(Deadline().get(), pull, &pulled);
    if (status.ok()) ++ok;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted;
  }
  EXPECT_LE(ok, 3);  // the burst (plus at most what refilled meanwhile)
  EXPECT_GE(exhausted, 3);
  // Another peer is not affected.
  auto b = NewPeerStore("b");
  EXPECT_TRUE(Handshake(*b).ok());
}

TEST_F(SecurityTest, APeerOverItsStreamCapIsResourceExhausted) {
  hub_options().peer_max_streams = 2;
  StartHub();
  auto a = NewPeerStore("a");
  ASSERT_TRUE(Handshake(*a).ok());
  pb::SubscribeRequest subscribe;
  subscribe.set_source_instance(a->instance_id());
  std::unique_ptr<grpc::ClientContext> contexts[3];
  std::unique_ptr<grpc::ClientReader<pb::SubscribeEvent>> readers[3];
  pb::SubscribeEvent event;
  for (int i = 0; i < 2; ++i) {
    contexts[i] = Deadline();
    readers[i] = stub().Subscribe(contexts[i].get(), subscribe);
    ASSERT_TRUE(readers[i]->Read(&event));  // open and live
  }
  contexts[2] = Deadline();
  readers[2] = stub().Subscribe(contexts[2].get(), subscribe);
  EXPECT_FALSE(readers[2]->Read(&event));
  EXPECT_EQ(readers[2]->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Closing one frees its slot.
  contexts[0]->TryCancel();
  readers[0]->Finish();
  bool reopened = false;
  for (int attempt = 0; attempt < 100 && !reopened; ++attempt) {
    auto context = Deadline();
    auto reader = stub().Subscribe(context.get(), subscribe);
    reopened = reader->Read(&event);
    context->TryCancel();
    reader->Finish();
  }
  EXPECT_TRUE(reopened);
  contexts[1]->TryCancel();
  readers[1]->Finish();
}

}  // namespace
}  // namespace pulse
