#include "tools/pulsectl/cli.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/ids.h"

ABSL_FLAG(std::string, hub, "127.0.0.1:7070", "host:port of the hub");
ABSL_FLAG(std::string, token, "", "bearer token (or set PULSE_TOKEN)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "deadline of each call");
ABSL_FLAG(std::string, identity_file, "",
          "where pulsectl keeps its own instance id (default ~/.pulsectl-instance)");

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

std::unique_ptr<grpc::ClientContext> Hub::Context(bool streaming) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!streaming) context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

Hub ConnectFromFlags() {
  Hub hub;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  hub.channel =
      grpc::CreateCustomChannel(absl::GetFlag(FLAGS_hub), grpc::InsecureChannelCredentials(), args);
  hub.sync = pb::SyncService::NewStub(hub.channel);
  hub.admin = pb::SyncAdmin::NewStub(hub.channel);
  hub.token = absl::GetFlag(FLAGS_token);
  if (hub.token.empty() && std::getenv("PULSE_TOKEN") != nullptr) {
    hub.token = std::getenv("PULSE_TOKEN");
  }
  hub.timeout = absl::GetFlag(FLAGS_timeout);
  return hub;
}

std::string ToolInstanceId() {
  std::string path = absl::GetFlag(FLAGS_identity_file);
  if (path.empty()) {
    const char* home = std::getenv("HOME");
    path = std::string(home != nullptr ? home : ".") + "/.pulsectl-instance";
  }
  std::ifstream in(path);
  std::string text;
  if (in && std::getline(in, text)) {
    absl::StatusOr<std::string> id = storage::IdFromText(text);
    if (id.ok()) return *id;
  }
  const std::string id = storage::NewUuidV7();
  std::ofstream(path) << storage::IdToText(id) << "\n";  // best effort: a new id next time
  return id;
}

absl::StatusOr<std::string> Handshake(const Hub& hub, const std::string& instance_id,
                                      const std::vector<std::string>& capabilities) {
  pb::HandshakeRequest request;
  request.set_instance_id(instance_id);
  request.set_protocol_version(1);
  for (const std::string& c : capabilities) request.add_capabilities(c);
  pb::HandshakeResponse response;
  auto context = hub.Context();
  grpc::Status status = hub.sync->Handshake(context.get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  if (!response.accepted()) {
    return absl::FailedPreconditionError(absl::StrCat("handshake refused: ", response.reason()));
  }
  return response.instance_id();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "ERROR: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitFailed;
}

int Fail(const grpc::Status& status) {
  return Fail(
      absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message()));
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2) != 0) {}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (total == 0) total = 1;
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int decile = static_cast<int>(fraction * 10);
  if (tty_) {
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r%s [%s%s] %3d%%  %llu/%llu", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<int>(fraction * 100), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
  } else if (decile != last_decile_) {
    std::fprintf(stderr, "%s %d%% (%llu/%llu)\n", label_.c_str(), decile * 10,
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
  }
  last_decile_ = decile;
}

void ProgressBar::Finish(uint64_t done) {
  if (tty_) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "%s done: %llu\n", label_.c_str(), static_cast<unsigned long long>(done));
}

std::string FormatAge(int64_t millis_ago) {
  if (millis_ago < 0) return "now";
  if (millis_ago < 1000) return absl::StrCat(millis_ago, "ms ago");
  if (millis_ago < 120000) return absl::StrCat(millis_ago / 1000, "s ago");
  if (millis_ago < 7200000) return absl::StrCat(millis_ago / 60000, "m ago");
  if (millis_ago < 172800000) return absl::StrCat(millis_ago / 3600000, "h ago");
  return absl::StrCat(millis_ago / 86400000, "d ago");
}

}  // namespace pulse::pulsectl
