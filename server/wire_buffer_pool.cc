#include "server/wire_buffer_pool.h"

#include <utility>

namespace pulse::server {

WireBufferPool::WireBufferPool(std::size_t max_buffers, std::size_t max_bytes)
    : max_buffers_(max_buffers), max_bytes_(max_bytes) {}

WireBufferPool& WireBufferPool::Shared() {
  // Never destroyed: gRPC may free a reply's buffer on its threads at any time.
  static WireBufferPool* const pool = new WireBufferPool(32, 64 << 20);
  return *pool;
}

std::unique_ptr<std::string> WireBufferPool::Take() {
  {
    MutexLock lock(&mu_);
    if (!held_.empty()) {
      std::unique_ptr<std::string> buffer = std::move(held_.back());
      held_.pop_back();
      held_bytes_ -= buffer->capacity();
      return buffer;
    }
  }
  return std::make_unique<std::string>();
}

void WireBufferPool::Give(std::unique_ptr<std::string> buffer) {
  if (buffer == nullptr) return;
  buffer->clear();  // keeps the capacity
  const std::size_t capacity = buffer->capacity();
  if (max_buffers_ == 0 || capacity < kMinKeptBytes || capacity > max_bytes_ / max_buffers_) {
    return;  // freed
  }
  MutexLock lock(&mu_);
  if (held_.size() >= max_buffers_ || held_bytes_ + capacity > max_bytes_) return;
  held_bytes_ += capacity;
  held_.push_back(std::move(buffer));
}

std::size_t WireBufferPool::held_buffers() const {
  MutexLock lock(&mu_);
  return held_.size();
}

std::size_t WireBufferPool::held_bytes() const {
  MutexLock lock(&mu_);
  return held_bytes_;
}

std::shared_ptr<const std::string> WireBufferPool::Share(std::unique_ptr<std::string> buffer) {
  return std::shared_ptr<const std::string>(buffer.release(), [this](const std::string* shared) {
    Give(std::unique_ptr<std::string>(const_cast<std::string*>(shared)));
  });
}

}  // namespace pulse::server
