// Read buffers. A connection holds a buffer only while bytes are in flight through it, so idle
// connections cost no buffer memory; released buffers are kept for reuse up to a small bound.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace faultline::proxy {

class BufferPool {
  public:
    static constexpr std::size_t buffer_size = std::size_t{64} * 1024;

    [[nodiscard]] char* take() {
        if (free_.empty()) return new char[buffer_size];
        char* buffer = free_.back().release();
        free_.pop_back();
        return buffer;
    }

    void give(char* buffer) {
        if (!buffer) return;
        if (free_.size() < max_free_buffers) {
            free_.emplace_back(buffer);
        } else {
            delete[] buffer;
        }
    }

  private:
    static constexpr std::size_t max_free_buffers = 64;
    std::vector<std::unique_ptr<char[]>> free_;
};

// The bytes a queued write holds until its callback: a whole pool buffer (given back to the pool
// when released), or an exact-size copy for a small remainder, so that many small queued chunks
// do not each hold a whole pool buffer.
class HeldBytes {
  public:
    HeldBytes() = default;
    [[nodiscard]] static HeldBytes pooled(BufferPool& pool, char* buffer) {
        HeldBytes held;
        held.data_ = buffer;
        held.pool_ = &pool;
        return held;
    }
    [[nodiscard]] static HeldBytes copy_of(const char* data, std::size_t length) {
        HeldBytes held;
        held.data_ = new char[length];
        std::memcpy(held.data_, data, length);
        return held;
    }
    HeldBytes(HeldBytes&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), pool_(std::exchange(other.pool_, nullptr)) {}
    HeldBytes& operator=(HeldBytes&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            pool_ = std::exchange(other.pool_, nullptr);
        }
        return *this;
    }
    HeldBytes(const HeldBytes&) = delete;
    HeldBytes& operator=(const HeldBytes&) = delete;
    ~HeldBytes() { release(); }

    [[nodiscard]] char* data() const { return data_; }
    [[nodiscard]] bool is_pooled() const { return pool_ != nullptr; }

  private:
    void release() {
        if (pool_) {
            pool_->give(std::exchange(data_, nullptr));
        } else {
            delete[] std::exchange(data_, nullptr);
        }
    }

    char* data_ = nullptr;
    BufferPool* pool_ = nullptr;
};

}  // namespace faultline::proxy
