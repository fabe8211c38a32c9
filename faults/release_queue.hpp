// Bytes held until their due times and released in order, with the end of the stream passed on
// right after the last of them: what latency and slicer share. The queue uses its fault's timer.
#pragma once

#include <cassert>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "faults/fault.hpp"

namespace faultline::faults {

class ReleaseQueue {
  public:
    // Holds `bytes` until `due` (forwards them at once when nothing is held and they are due).
    // Due times never decrease: a chunk is never released before the one before it.
    void hold(Context& context, Micros due, std::string bytes) {
        assert(!last_due_ || due >= *last_due_);
        assert(!is_end_held_);
        last_due_ = due;
        if (chunks_.empty() && due <= context.now()) {
            context.forward(std::move(bytes));
            return;
        }
        held_bytes_ += bytes.size();
        chunks_.push_back({due, std::move(bytes)});
        if (chunks_.size() == 1) context.set_timer(due);
    }

    // The source's FIN: passed on at once when nothing is held, else right after the last byte.
    void end(Context& context) {
        if (chunks_.empty()) {
            context.forward_end();
        } else {
            is_end_held_ = true;
        }
    }

    // For on_timer: forwards what is due, then asks for the timer at the next due time.
    void release_due(Context& context) {
        while (!chunks_.empty() && chunks_.front().due <= context.now())
            forward_front(context);
        if (!chunks_.empty()) {
            context.set_timer(chunks_.front().due);
        } else {
            forward_held_end(context);
        }
    }

    // For on_stop: forwards everything at once, in order, then a held end.
    void release_all(Context& context) {
        context.cancel_timer();
        while (!chunks_.empty())
            forward_front(context);
        forward_held_end(context);
    }

    [[nodiscard]] std::size_t held_bytes() const { return held_bytes_; }
    // The due time of the latest chunk given to hold(), released or not.
    [[nodiscard]] std::optional<Micros> last_due() const { return last_due_; }

  private:
    struct Chunk {
        Micros due;
        std::string bytes;
    };

    void forward_front(Context& context) {
        held_bytes_ -= chunks_.front().bytes.size();
        auto bytes = std::move(chunks_.front().bytes);
        chunks_.pop_front();
        context.forward(std::move(bytes));
    }

    void forward_held_end(Context& context) {
        if (!is_end_held_) return;
        is_end_held_ = false;
        context.forward_end();
    }

    std::deque<Chunk> chunks_;
    std::size_t held_bytes_ = 0;
    bool is_end_held_ = false;
    std::optional<Micros> last_due_;
};

}  // namespace faultline::faults
