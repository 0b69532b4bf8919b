// Two agents of an outside workspace share a lesson through PulseSync (the in-memory hub:
// this workspace only proves the targets build and link from elsewhere).
#include "agent_memory.h"

#include <cstdlib>

#include "client/in_memory_sync_transport.h"
#include "gtest/gtest.h"

namespace example {
namespace {

TEST(AgentMemory, ALessonRememberedByOneAgentReachesTheOther) {
  const std::string root = std::getenv("TEST_TMPDIR");
  auto hub = std::make_shared<pulse::client::InMemoryHub>();
  auto alice = *AgentMemory::Open(root + "/alice",
                                  std::make_shared<pulse::client::InMemorySyncTransport>(hub));
  auto bob = *AgentMemory::Open(root + "/bob",
                                std::make_shared<pulse::client::InMemorySyncTransport>(hub));
  const std::string team = *alice->Team("platform");
  ASSERT_TRUE(alice->Remember(team, "pin dependency versions").ok());
  ASSERT_TRUE(alice->Sync().ok());
  ASSERT_TRUE(bob->Sync().ok());
  EXPECT_EQ(bob->Lessons(), std::vector<std::string>{"pin dependency versions"});
}

}  // namespace
}  // namespace example
