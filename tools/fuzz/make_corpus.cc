// Writes the seed corpus of push_fuzzer: valid PushRequests of every payload kind, as a
// real peer would send them (collective, experiences of several types, updates with
// reinforcement and tags, archive, relation, insight, deletes, a replay), and one a newer
// or odd sender could: a change with fields the hub does not know, a group among them.
// Usage:
//   make_corpus OUTPUT_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "google/protobuf/unknown_field_set.h"
#include "storage/store.h"
#include "tests/support/entities.h"

int main(int argc, char** argv) {
  namespace pb = pulsedb::sync::v1;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTPUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  std::filesystem::create_directories(out);
  const std::string scratch = out + "/.scratch-store";
  auto store = *pulse::storage::Store::Open(scratch);
  const std::string c = store->CreateCollective(pulse::testing::MakeCollective())->id;
  pb::Experience difficulty = pulse::testing::MakeExperience(c, "hard");
  difficulty.mutable_experience_type()->mutable_difficulty()->set_severity(pb::SEVERITY_HIGH);
  const std::string e1 = store->CreateExperience(difficulty)->id;
  const std::string e2 = store->CreateExperience(pulse::testing::MakeExperience(c))->id;
  pb::ExperienceUpdate u;
  u.set_importance(0.8f);
  (*u.mutable_tags()->mutable_entries())["k"] = "v";
  u.mutable_domain()->add_values("fuzz");
  if (!store->UpdateExperience(e1, u).ok()) return 1;
  if (!store->ReinforceExperience(e1).ok()) return 1;
  if (!store->ArchiveExperience(e2).ok()) return 1;
  const std::string r = store->CreateRelation(pulse::testing::MakeRelation(e1, e2))->id;
  if (!store->CreateInsight(pulse::testing::MakeInsight(c)).ok()) return 1;
  if (!store->DeleteRelation(r).ok()) return 1;
  if (!store->DeleteExperience(e2).ok()) return 1;
  pulse::storage::ScanRequest scan;
  scan.max_changes = 1000;
  auto log = store->log().Scan(scan);
  // One file per prefix of the history, plus the whole history and single changes.
  int n = 0;
  for (int end = 1; end <= static_cast<int>(log->changes.size()); ++end) {
    pb::PushRequest request;
    request.set_source_instance(store->instance_id());
    for (int i = 0; i < end; ++i) *request.add_changes() = log->changes[i];
    std::ofstream(out + "/prefix-" + std::to_string(end), std::ios::binary)
        << request.SerializeAsString();
    ++n;
  }
  for (size_t i = 0; i < log->changes.size(); ++i) {
    pb::PushRequest single;
    single.set_source_instance(store->instance_id());
    *single.add_changes() = log->changes[i];
    std::ofstream(out + "/single-" + std::to_string(i), std::ios::binary)
        << single.SerializeAsString();
    ++n;
  }
  {
    pb::PushRequest odd;
    odd.set_source_instance(store->instance_id());
    for (int i = 0; i < 2; ++i) *odd.add_changes() = log->changes[i];
    pb::SyncChange& change = *odd.mutable_changes(1);
    google::protobuf::UnknownFieldSet* unknown =
        change.GetReflection()->MutableUnknownFields(&change);
    unknown->AddVarint(90, 1);
    unknown->AddGroup(91)->AddLengthDelimited(3, "inside");
    std::ofstream(out + "/unknown-fields", std::ios::binary) << odd.SerializeAsString();
    ++n;
  }
  store.reset();
  std::filesystem::remove_all(scratch);
  std::printf("wrote %d seeds to %s\n", n, out.c_str());
  return 0;
}
