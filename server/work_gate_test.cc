#include "server/work_gate.h"

#include <sched.h>

#include <atomic>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/eventually.h"

namespace pulse::server {
namespace {

TEST(WorkGateTest, AThirdPassWaitsUntilOneOfTwoSlotsIsFreed) {
  WorkGate gate(2);
  auto first = std::make_unique<WorkGate::Pass>(gate);
  WorkGate::Pass second(gate);
  EXPECT_EQ(gate.held(), 2);

  std::atomic<bool> entered{false};
  std::thread third([&] {
    WorkGate::Pass pass(gate);
    entered = true;
  });
  ASSERT_TRUE(testing::Eventually([&] { return gate.waiting() == 1; }));
  EXPECT_FALSE(entered.load());
  EXPECT_EQ(gate.held(), 2);

  EXPECT_EQ(gate.waited(), absl::ZeroDuration());  // still waiting: not counted yet
  first.reset();
  third.join();  // it got the freed slot
  EXPECT_TRUE(entered.load());
  EXPECT_GT(gate.waited(), absl::ZeroDuration());
  EXPECT_EQ(gate.waiting(), 0);
  EXPECT_EQ(gate.held(), 1);  // `second` only
}

TEST(WorkGateTest, NeverMoreHoldersThanSlots) {
  WorkGate gate(3);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        WorkGate::Pass pass(gate);
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --inside;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(gate.held(), 0);
}

TEST(WorkGateTest, EachHolderHasASlotOfItsOwn) {
  WorkGate gate(3);
  std::vector<std::atomic<int>> holders(3);
  std::atomic<bool> shared{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        WorkGate::Pass pass(gate);
        ASSERT_GE(pass.slot(), 0);
        ASSERT_LT(pass.slot(), 3);
        if (++holders[pass.slot()] != 1) shared = true;
        --holders[pass.slot()];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_FALSE(shared.load()) << "two passes held one slot at once";
}

TEST(WorkGateTest, UsableCoresFollowsTheAffinity) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(WorkGate::UsableCores(), CPU_COUNT(&saved));
  // Pinned to one core (as a container's cpuset would), the default is one slot.
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &saved)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    EXPECT_EQ(WorkGate::UsableCores(), 1);
  });
  pinned.join();
}

TEST(WorkGateTest, FewerThanOneSlotMeansOne) {
  WorkGate gate(0);
  EXPECT_EQ(gate.slots(), 1);
}

}  // namespace
}  // namespace pulse::server
