#include "server/wire_buffer_pool.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace pulse::server {
namespace {

std::unique_ptr<std::string> Page(std::size_t bytes) {
  auto page = std::make_unique<std::string>();
  page->reserve(bytes);
  page->append(bytes, 'x');
  return page;
}

TEST(WireBufferPool, AGivenBufferComesBackEmptyWithItsMemory) {
  WireBufferPool pool(4, 16 << 20);
  std::unique_ptr<std::string> page = Page(1 << 20);
  const char* memory = page->data();
  const std::size_t capacity = page->capacity();
  pool.Give(std::move(page));
  EXPECT_EQ(pool.held_buffers(), 1u);
  EXPECT_EQ(pool.held_bytes(), capacity);
  std::unique_ptr<std::string> again = pool.Take();
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(again->data(), memory);  // no new allocation, no fresh pages
  EXPECT_EQ(again->capacity(), capacity);
  EXPECT_EQ(pool.held_buffers(), 0u);
  EXPECT_EQ(pool.held_bytes(), 0u);
  // Empty: a new buffer.
  EXPECT_EQ(pool.Take()->capacity(), std::string().capacity());
}

TEST(WireBufferPool, HoldsNoMoreThanItsBuffersAndBytes) {
  WireBufferPool pool(2, 8 << 20);
  for (int i = 0; i < 3; ++i) pool.Give(Page(1 << 20));
  EXPECT_EQ(pool.held_buffers(), 2u);  // the third was freed
  // One buffer may take at most max_bytes / max_buffers.
  WireBufferPool small(2, 2 << 20);
  small.Give(Page(2 << 20));
  EXPECT_EQ(small.held_buffers(), 0u);
  small.Give(Page(1 << 20));
  EXPECT_EQ(small.held_buffers(), 1u);
}

TEST(WireBufferPool, SmallBuffersAreNotKept) {
  WireBufferPool pool(4, 16 << 20);
  pool.Give(Page(100));  // a reply's head, say: would only crowd out pages
  pool.Give(nullptr);
  EXPECT_EQ(pool.held_buffers(), 0u);
}

}  // namespace
}  // namespace pulse::server
