// latency (Toxiproxy): each chunk is released at its arrival + latency ± jitter, never before it
// arrived and never before the chunk ahead of it; delays do not add up across chunks.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "faults/release_queue.hpp"
#include "faults/spec.hpp"

namespace faultline::faults {

struct LatencyConfig {
    std::chrono::milliseconds latency{0};
    std::chrono::milliseconds jitter{0};

    static LatencyConfig read(AttributeReader& reader) {
        return {std::chrono::milliseconds(reader.integer("latency", 0, 0, max_milliseconds)),
                std::chrono::milliseconds(reader.integer("jitter", 0, 0, max_milliseconds))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return {{"latency", latency.count()}, {"jitter", jitter.count()}};
    }
};

// An offset uniform in [-jitter, +jitter] (whole microseconds, both ends included) from a draw
// uniform in [0, 1).
[[nodiscard]] inline Micros jitter_offset(Micros jitter, double draw) {
    const auto span = static_cast<double>(2 * jitter.count() + 1);
    const auto step = std::min(static_cast<std::int64_t>(draw * span), 2 * jitter.count());
    return Micros(step) - jitter;
}

// When a chunk arriving at `arrival` leaves: arrival + latency + offset, but never before it
// arrived and never before `previous_due`, the due time of the chunk ahead of it.
[[nodiscard]] inline Micros latency_due(Micros arrival, Micros latency, Micros offset,
                                        Micros previous_due) {
    return std::max({arrival + latency + offset, arrival, previous_due});
}

class LatencyFault final : public Fault {
  public:
    explicit LatencyFault(const LatencyConfig& config) : config_(config) {}
    // Applies to chunks arriving afterwards; held chunks keep their due times.
    void configure(const LatencyConfig& config) { config_ = config; }

    void on_data(Context& context, std::string bytes) override {
        const Micros jitter = config_.jitter;
        const Micros offset =
            jitter > Micros::zero() ? jitter_offset(jitter, context.random()) : Micros::zero();
        const Micros due = latency_due(context.now(), config_.latency, offset,
                                       queue_.last_due().value_or(Micros::min()));
        queue_.hold(context, due, std::move(bytes));
    }
    void on_end(Context& context) override { queue_.end(context); }
    void on_timer(Context& context) override { queue_.release_due(context); }
    void on_stop(Context& context) override { queue_.release_all(context); }
    [[nodiscard]] std::size_t held_bytes() const override { return queue_.held_bytes(); }

  private:
    LatencyConfig config_;
    ReleaseQueue queue_;
};

}  // namespace faultline::faults
