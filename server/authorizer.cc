#include "server/authorizer.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/ids.h"

namespace pulse::server {
namespace {

// Compares without an early exit, so timing does not reveal how much of a token matched.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

absl::Status ParseSet(absl::string_view value, bool* all, absl::flat_hash_set<std::string>* ids,
                      int line) {
  if (value == "*") {
    *all = true;
    return absl::OkStatus();
  }
  for (absl::string_view text : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    absl::StatusOr<std::string> id = storage::IdFromText(text);
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file line ", line, ": ", id.status().message()));
    }
    ids->insert(*id);
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<Authorizer> Authorizer::AllowAll() {
  return std::unique_ptr<Authorizer>(new Authorizer());
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return FromText(text.str());
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromText(absl::string_view text) {
  std::unique_ptr<Authorizer> auth(new Authorizer());
  auth->enabled_ = true;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    Grant grant;
    grant.name = absl::StrCat("token #", number);
    for (std::size_t i = 1; i < fields.size(); ++i) {
      absl::string_view field = fields[i];
      absl::Status s;
      if (absl::ConsumePrefix(&field, "read=")) {
        s = ParseSet(field, &grant.read_all, &grant.read, number);
      } else if (absl::ConsumePrefix(&field, "write=")) {
        s = ParseSet(field, &grant.write_all, &grant.write, number);
      } else if (field == "admin") {
        grant.admin = true;
      } else {
        s = absl::InvalidArgumentError(absl::StrCat(
            "token file line ", number, ": unknown field (expected read=, write= or admin)"));
      }
      if (!s.ok()) return s;
    }
    if (fields[0].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file line ", number, ": tokens must be at least 16 characters"));
    }
    auth->tokens_.emplace_back(std::string(fields[0]), std::move(grant));
  }
  if (auth->tokens_.empty()) return absl::InvalidArgumentError("token file has no tokens");
  return auth;
}

absl::StatusOr<Grant> Authorizer::Authenticate(const grpc::ServerContextBase& context) const {
  if (!enabled_) {
    Grant all;
    all.read_all = all.write_all = all.admin = true;
    all.name = "open";
    return all;
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing authorization: Bearer <token>");
  }
  absl::string_view header(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&header, "Bearer ")) {
    return absl::UnauthenticatedError("authorization must be \"Bearer <token>\"");
  }
  const Grant* found = nullptr;
  for (const auto& [token, grant] : tokens_) {  // no early exit: constant time overall
    if (ConstantTimeEquals(token, header) && found == nullptr) found = &grant;
  }
  if (found == nullptr) return absl::UnauthenticatedError("unknown token");
  return *found;
}

absl::StatusOr<std::vector<std::string>> ReadableCollectives(
    const Grant& grant, const std::vector<std::string>& requested) {
  if (grant.read_all) return requested;
  if (requested.empty()) {
    if (grant.read.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(grant.name, " may not read any collective"));
    }
    return std::vector<std::string>(grant.read.begin(), grant.read.end());
  }
  for (const std::string& id : requested) {
    if (!grant.CanRead(id)) {
      return absl::PermissionDeniedError(
          absl::StrCat(grant.name, " may not read collective ", storage::IdToText(id)));
    }
  }
  return requested;
}

}  // namespace pulse::server
