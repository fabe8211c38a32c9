// bandwidth (Toxiproxy): bytes leave at `rate` KB/s (1 KB = 1000 B), per connection and stream.
// Held bytes are released in pieces of at least a millisecond's worth, counted from a fixed
// anchor so that no rounding accumulates; rate 0 holds everything until the rate changes or the
// rule goes away.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

inline constexpr std::int64_t max_kilobytes_per_second = 1'000'000'000;  // 1 TB/s

struct BandwidthConfig {
    std::int64_t kilobytes_per_second = 0;

    static BandwidthConfig read(AttributeReader& reader) {
        return {reader.integer("rate", 0, 0, max_kilobytes_per_second)};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return {{"rate", kilobytes_per_second}};
    }
    [[nodiscard]] std::uint64_t bytes_per_second() const {
        return static_cast<std::uint64_t>(kilobytes_per_second) * 1000;
    }
};

// Bytes a link of `bytes_per_second` (> 0) has carried `elapsed` after it started, rounded down.
[[nodiscard]] inline std::uint64_t bytes_carried(std::uint64_t bytes_per_second, Micros elapsed) {
    if (elapsed <= Micros::zero()) return 0;
    const auto micros = static_cast<std::uint64_t>(elapsed.count());
    return bytes_per_second * (micros / 1'000'000) +
           bytes_per_second * (micros % 1'000'000) / 1'000'000;
}

// The time such a link needs to carry `bytes`, rounded up to the microsecond.
[[nodiscard]] inline Micros time_to_carry(std::uint64_t bytes_per_second, std::uint64_t bytes) {
    const auto whole = bytes / bytes_per_second;
    const auto rest = bytes % bytes_per_second;
    return Micros(static_cast<std::int64_t>(
        whole * 1'000'000 + (rest * 1'000'000 + bytes_per_second - 1) / bytes_per_second));
}

// The smallest piece worth a timer: a millisecond's worth of bytes, at least one.
[[nodiscard]] inline std::uint64_t piece_bytes(std::uint64_t bytes_per_second) {
    return std::max<std::uint64_t>(1, (bytes_per_second + 999) / 1000);
}

class BandwidthFault final : public Fault {
  public:
    explicit BandwidthFault(const BandwidthConfig& config) : rate_(config.bytes_per_second()) {}
    // The new rate counts from the moment on_update() sees it.
    void configure(const BandwidthConfig& config) {
        if (config.bytes_per_second() == rate_) return;
        rate_ = config.bytes_per_second();
        needs_anchor_ = true;
    }

    void on_data(Context& context, std::string bytes) override {
        if (bytes.empty()) return;
        // A link that sat idle keeps no credit: it starts again from now.
        if (held_bytes_ == 0 && rate_ > 0 &&
            context.now() >= anchor_ + time_to_carry(rate_, sent_ + 1))
            needs_anchor_ = true;
        held_bytes_ += bytes.size();
        chunks_.push_back(std::move(bytes));
        release(context);
    }
    void on_end(Context& context) override {
        if (held_bytes_ == 0) {
            context.forward_end();
        } else {
            is_end_held_ = true;
        }
    }
    void on_timer(Context& context) override { release(context); }
    void on_update(Context& context) override { release(context); }
    void on_stop(Context& context) override {
        context.cancel_timer();
        if (held_bytes_ > 0) context.forward(take(held_bytes_));
        forward_held_end(context);
    }
    [[nodiscard]] std::size_t held_bytes() const override { return held_bytes_; }

  private:
    // Forwards what the rate allows by now and asks for the timer when the next piece is due.
    void release(Context& context) {
        if (held_bytes_ == 0 || rate_ == 0) {
            context.cancel_timer();
            return;
        }
        if (needs_anchor_) {
            anchor_ = context.now();
            sent_ = 0;
            needs_anchor_ = false;
        }
        const auto carried = bytes_carried(rate_, context.now() - anchor_);
        const auto count =
            std::min<std::uint64_t>(carried > sent_ ? carried - sent_ : 0, held_bytes_);
        if (count > 0) {
            sent_ += count;
            // Whole seconds move into the anchor, so the arithmetic stays small.
            anchor_ += std::chrono::seconds(static_cast<std::int64_t>(sent_ / rate_));
            sent_ %= rate_;
            context.forward(take(static_cast<std::size_t>(count)));
        }
        if (held_bytes_ == 0) {
            context.cancel_timer();
            forward_held_end(context);
            return;
        }
        const auto piece = std::min<std::uint64_t>(held_bytes_, piece_bytes(rate_));
        context.set_timer(anchor_ + time_to_carry(rate_, sent_ + piece));
    }

    // The first `count` held bytes, across chunk boundaries.
    std::string take(std::size_t count) {
        std::string bytes;
        bytes.reserve(count);
        held_bytes_ -= count;
        while (count > 0) {
            auto& front = chunks_.front();
            const auto part = std::min(count, front.size() - front_offset_);
            bytes.append(front, front_offset_, part);
            front_offset_ += part;
            count -= part;
            if (front_offset_ == front.size()) {
                chunks_.pop_front();
                front_offset_ = 0;
            }
        }
        return bytes;
    }

    void forward_held_end(Context& context) {
        if (!is_end_held_) return;
        is_end_held_ = false;
        context.forward_end();
    }

    std::uint64_t rate_;  // bytes per second
    std::deque<std::string> chunks_;
    std::size_t front_offset_ = 0;  // bytes of chunks_.front() already released
    std::size_t held_bytes_ = 0;
    Micros anchor_{0};  // the link has carried sent_ bytes since anchor_
    std::uint64_t sent_ = 0;
    bool needs_anchor_ = true;
    bool is_end_held_ = false;
};

}  // namespace faultline::faults
