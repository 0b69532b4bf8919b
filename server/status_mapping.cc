#include "server/status_mapping.h"

#include <string>

#include "common/status_payloads.h"

namespace pulse::server {

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  if (context != nullptr) {
    for (const StatusPayload& payload : KnownStatusPayloads()) {
      auto value = status.GetPayload(payload.type_url);
      if (value.has_value()) context->AddTrailingMetadata(payload.trailer, std::string(*value));
    }
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace pulse::server
