#include "server/hub.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/compaction.h"
#include "server/metrics_page.h"
#include "storage/ids.h"

namespace pulse::server {

namespace {

constexpr char kServiceName[] = "pulsedb.sync.v1.SyncService";

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plaintext, or TLS (optionally mutual) from the PEM files the options name.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const HubOptions& options) {
  if (options.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "TLS key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(options.tls_client_ca_file, "TLS client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Hub>> Hub::Start(HubOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  storage::StoreOptions store_options;
  store_options.sync_writes = options.sync_writes;
  store_options.authoritative = true;
  store_options.file_system = options.file_system;
  store_options.direct_io_for_flush = options.direct_io_flush;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(options.data_dir, store_options);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::unique_ptr<PeerRegistry>> peers = PeerRegistry::Load(store->get());
  if (!peers.ok()) return peers.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  absl::StatusOr<std::unique_ptr<Authorizer>> authorizer =
      options.auth_token_file.empty() ? Authorizer::AllowAll()
                                      : Authorizer::FromFile(options.auth_token_file);
  if (!authorizer.ok()) return authorizer.status();

  std::unique_ptr<Hub> hub(new Hub());
  hub->context_ = std::make_unique<HubContext>(options, std::move(*store), std::move(*peers),
                                               std::move(*authorizer));
  hub->instance_id_ = hub->context_->hub_id();
  hub->service_ = std::make_unique<SyncServiceImpl>(hub->context_.get());
  hub->admin_ = std::make_unique<SyncAdminImpl>(hub->context_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &hub->port_);
  // gRPC sets SO_REUSEPORT by default: a second hub on the same address would start and
  // silently share the port. One hub per address.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterService(hub->service_.get());
  builder.RegisterService(hub->admin_.get());
  hub->server_ = builder.BuildAndStart();
  if (hub->server_ == nullptr || hub->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen_address,
                                               " (address in use, or not a valid host:port)"));
  }
  hub->host_ = options.listen_address.substr(0, options.listen_address.rfind(':'));
  if (hub->host_.empty() || hub->host_ == "0.0.0.0" || hub->host_ == "[::]") {
    hub->host_ = "127.0.0.1";
  }
  grpc::HealthCheckServiceInterface* health = hub->server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    health->SetServingStatus(kServiceName, true);
  }
  if (!options.metrics_listen_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> metrics = MetricsHttpServer::Start(
        options.metrics_listen_address,
        [context = hub->context_.get()] { return RenderMetricsPage(*context); });
    if (!metrics.ok()) return metrics.status();  // ~Hub shuts the gRPC server down
    hub->metrics_http_ = std::move(*metrics);
  }
  hub->ticker_ = std::thread([h = hub.get()] { h->Tick(); });
  Log(LogLevel::kInfo, "hub_started",
      {{"instance", storage::IdToText(hub->instance_id())},
       {"address", hub->address()},
       {"metrics", options.metrics_listen_address.empty() ? "off" : hub->metrics_address()},
       {"data_dir", options.data_dir},
       {"head", absl::StrCat(hub->context_->store().log().Head())},
       {"sync_writes", options.sync_writes ? "true" : "false"},
       {"auth", options.auth_token_file.empty() ? "off" : "tokens"},
       {"tls", options.tls_cert_file.empty()
                   ? "off"
                   : (options.tls_client_ca_file.empty() ? "on" : "mutual")}});
  return hub;
}

Hub::~Hub() { Shutdown(); }

std::string Hub::address() const { return absl::StrCat(host_, ":", port_); }

std::string Hub::metrics_address() const {
  if (metrics_http_ == nullptr) return "";
  const std::string& listen = context_->options().metrics_listen_address;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  return absl::StrCat(host, ":", metrics_http_->port());
}

absl::StatusOr<uint64_t> Hub::CompactNow() {
  absl::StatusOr<CompactionResult> run = CompactHubLog(*context_, "timer");
  if (!run.ok()) return run.status();
  return run->removed;
}

void Hub::Tick() {
  const HubOptions& options = context_->options();
  const absl::Duration period =
      std::min(absl::Seconds(1), std::max(absl::Milliseconds(5), options.heartbeat_interval / 2));
  absl::Time next_compaction = absl::Now() + options.compaction_interval;
  MutexLock lock(&mu_);
  while (!stopping_) {
    cv_.WaitWithDeadline(&mu_, absl::Now() + period);
    if (stopping_) break;
    mu_.Unlock();
    const absl::Time now = absl::Now();
    context_->ForEachStream([now](LiveStream& s) { s.OnTick(now); });
    if (options.compaction_interval > absl::ZeroDuration() && now >= next_compaction) {
      (void)CompactNow();  // logs its own outcome; the next tick tries again
      next_compaction = now + options.compaction_interval;
    }
    mu_.Lock();
  }
}

void Hub::Shutdown() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.SignalAll();
  if (server_ == nullptr) {  // Start failed before serving: only the context to close
    context_.reset();
    return;
  }
  Log(LogLevel::kInfo, "hub_stopping", {{"instance", storage::IdToText(instance_id())}});
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  context_->StopAcceptingStreams();
  context_->ForEachStream(
      [](LiveStream& s) { s.Close(absl::UnavailableError("hub is shutting down")); });
  // gRPC's shutdown also waits for idle client connections to go away, which they may
  // never do on their own; so wait for our in-flight calls ourselves, then shut down with
  // an immediate deadline (what is still pending then is cancelled; peers retry, and
  // exactly-once makes that safe).
  if (!context_->WaitForIdle(absl::Now() + context_->options().shutdown_grace)) {
    Log(LogLevel::kWarning, "shutdown_grace_expired",
        {{"in_flight", absl::StrCat(context_->in_flight())}});
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_->Wait();
  // A stream's OnDone can still be running on a gRPC thread after Wait returned (seen
  // under TSan as a race with the context's destruction): let every one finish.
  if (!context_->WaitForStreamsDone(absl::Now() + absl::Seconds(10))) {
    Log(LogLevel::kWarning, "shutdown_streams_not_done", {{"streams", "still open"}});
  }
  if (ticker_.joinable()) ticker_.join();
  metrics_http_.reset();  // waits for a scrape in progress; it reads the store
  const std::string id = instance_id();
  const uint64_t head = context_->store().log().Head();
  context_.reset();  // drains the pool, closes the store
  Log(LogLevel::kInfo, "hub_stopped",
      {{"instance", storage::IdToText(id)}, {"head", absl::StrCat(head)}});
  MutexLock lock(&mu_);
  stopped_ = true;
}

}  // namespace pulse::server
