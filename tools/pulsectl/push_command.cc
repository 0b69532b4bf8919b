// pulsectl push FILE: sends a PushRequest written as protobuf JSON (ids as base64), as
// the instance it names, and prints the hub's answer. Exit 1 when anything was rejected.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "tools/pulsectl/cli.h"
#include "tools/pulsectl/commands.h"

namespace pulse::pulsectl {

namespace pb = pulsedb::sync::v1;

int PushCommand(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: pulsectl push CHANGES.json   (a PushRequest in protobuf JSON)\n");
    return kExitUsage;
  }
  std::ifstream in(args[0]);
  if (!in) return Fail(absl::NotFoundError("cannot read " + args[0]));
  std::stringstream text;
  text << in.rdbuf();
  pb::PushRequest request;
  if (auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &request);
      !parsed.ok()) {
    std::fprintf(stderr, "ERROR: %s is not a PushRequest: %s\n", args[0].c_str(),
                 parsed.ToString().c_str());
    return kExitUsage;
  }
  Hub hub = ConnectFromFlags();
  absl::StatusOr<std::string> hub_id = Handshake(hub, request.source_instance(), {"push"});
  if (!hub_id.ok()) return Fail(hub_id.status());
  pb::PushResponse response;
  auto context = hub.Context();
  grpc::Status rpc = hub.sync->Push(context.get(), request, &response);
  if (!rpc.ok()) return Fail(rpc);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(response, &json, options);
  std::printf("%s\n", json.c_str());
  return response.rejected() == 0 ? kExitOk : kExitFailed;
}

}  // namespace pulse::pulsectl
