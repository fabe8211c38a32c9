// Read buffers. A connection holds a buffer only while bytes are in flight through it, so idle
// connections cost no buffer memory; released buffers are kept for reuse up to a small bound.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace faultline::proxy {

class BufferPool {
  public:
    static constexpr std::size_t buffer_size = 64 * 1024;

    [[nodiscard]] char* take() {
        if (free_.empty()) return new char[buffer_size];
        char* buffer = free_.back().release();
        free_.pop_back();
        return buffer;
    }

    void give(char* buffer) {
        if (!buffer) return;
        if (free_.size() < max_free_) {
            free_.emplace_back(buffer);
        } else {
            delete[] buffer;
        }
    }

  private:
    static constexpr std::size_t max_free_ = 64;
    std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace faultline::proxy
