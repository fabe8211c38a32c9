// slicer (Toxiproxy): each chunk is cut into pieces of average_size ± size_variation bytes, sent
// `delay` µs apart, in order across chunks; the end of the stream follows the last piece.
// Toxiproxy crashes on average_size 0 (its default); here it is a validation error.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

struct SlicerConfig {
    std::size_t average_size = 0;
    std::size_t size_variation = 0;
    Micros delay{0};

    static SlicerConfig read(AttributeReader& reader) {
        const auto average = reader.positive_integer("average_size", max_bytes);
        const auto variation = reader.integer("size_variation", 0, 0, max_bytes);
        const auto delay = reader.integer("delay", 0, 0, max_milliseconds * 1000);
        if (average > 0 && variation > average) {
            reader.report("size_variation", "must not be greater than average_size (" +
                                                std::to_string(average) + "), got " +
                                                std::to_string(variation));
        }
        return {static_cast<std::size_t>(average), static_cast<std::size_t>(variation),
                Micros(delay)};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return {{"average_size", average_size},
                {"size_variation", size_variation},
                {"delay", delay.count()}};
    }
};

// A piece's size: average plus a variation uniform in [-variation, +variation] (both included)
// from a draw uniform in [0, 1); never 0.
[[nodiscard]] inline std::size_t slice_size(std::size_t average, std::size_t variation,
                                            double draw) {
    const auto span = 2 * variation + 1;
    const auto step =
        std::min(static_cast<std::size_t>(draw * static_cast<double>(span)), 2 * variation);
    return std::max<std::size_t>(1, average - variation + step);
}

class SlicerFault final : public Fault {
  public:
    explicit SlicerFault(const SlicerConfig& config) : config_(config) {}
    // Applies to the pieces cut afterwards, including those of held chunks.
    void configure(const SlicerConfig& config) { config_ = config; }

    void on_data(Context& context, std::string bytes) override {
        if (bytes.empty()) return;
        held_bytes_ += bytes.size();
        chunks_.push_back({context.now(), std::move(bytes)});
        if (chunks_.size() == 1) release(context);  // else the timer is already set
    }
    void on_end(Context& context) override {
        if (chunks_.empty()) {
            context.forward_end();
        } else {
            is_end_held_ = true;
        }
    }
    void on_timer(Context& context) override { release(context); }
    void on_stop(Context& context) override {
        context.cancel_timer();
        while (!chunks_.empty()) {
            context.forward(chunks_.front().bytes.substr(front_offset_));
            chunks_.pop_front();
            front_offset_ = 0;
        }
        held_bytes_ = 0;
        forward_held_end(context);
    }
    [[nodiscard]] std::size_t held_bytes() const override { return held_bytes_; }

  private:
    struct Chunk {
        Micros arrival;
        std::string bytes;
    };

    // Sends every piece that is due, then asks for the timer when the next one is.
    void release(Context& context) {
        while (!chunks_.empty()) {
            const Micros arrival = chunks_.front().arrival;
            const Micros due = last_due_ ? std::max(arrival, *last_due_ + config_.delay) : arrival;
            if (due > context.now()) {
                context.set_timer(due);
                return;
            }
            last_due_ = due;
            context.forward(cut_piece(context));
        }
        forward_held_end(context);
    }

    std::string cut_piece(Context& context) {
        auto& front = chunks_.front().bytes;
        const double draw = config_.size_variation > 0 ? context.random() : 0.0;
        const auto size = std::min(slice_size(config_.average_size, config_.size_variation, draw),
                                   front.size() - front_offset_);
        std::string piece = front.substr(front_offset_, size);
        front_offset_ += size;
        held_bytes_ -= size;
        if (front_offset_ == front.size()) {
            chunks_.pop_front();
            front_offset_ = 0;
        }
        return piece;
    }

    void forward_held_end(Context& context) {
        if (!is_end_held_) return;
        is_end_held_ = false;
        context.forward_end();
    }

    SlicerConfig config_;
    std::deque<Chunk> chunks_;
    std::size_t front_offset_ = 0;  // bytes of chunks_.front() already sent
    std::size_t held_bytes_ = 0;
    std::optional<Micros> last_due_;  // when the latest piece was due
    bool is_end_held_ = false;
};

}  // namespace faultline::faults
