// timeout (Toxiproxy): bytes are dropped; once no byte arrived in this stream for `timeout` ms
// (counted from the fault's start, restarted by each chunk) the connection is closed. 0 never
// closes. The source's FIN is held until the rule goes away.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "faults/spec.hpp"

namespace faultline::faults {

struct TimeoutConfig {
    std::chrono::milliseconds timeout{0};

    static TimeoutConfig read(AttributeReader& reader) {
        return {std::chrono::milliseconds(reader.integer("timeout", 0, 0, max_milliseconds))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const { return {{"timeout", timeout.count()}}; }
};

// When a stream whose last byte arrived at `last_arrival` times out; nullopt for never.
[[nodiscard]] inline std::optional<Micros> silence_deadline(Micros last_arrival,
                                                            std::chrono::milliseconds timeout) {
    if (timeout <= std::chrono::milliseconds::zero()) return std::nullopt;
    return last_arrival + timeout;
}

class TimeoutFault final : public Fault {
  public:
    explicit TimeoutFault(const TimeoutConfig& config) : config_(config) {}
    void configure(const TimeoutConfig& config) { config_ = config; }

    void on_start(Context& context) override {
        last_arrival_ = context.now();
        arm(context);
    }
    // Dropped; the timer that is already set sees the new deadline when it fires.
    void on_data(Context& context, std::string) override { last_arrival_ = context.now(); }
    void on_end(Context&) override { is_end_held_ = true; }
    void on_timer(Context& context) override {
        if (is_closed_) return;
        const auto deadline = silence_deadline(last_arrival_, config_.timeout);
        if (!deadline) return;
        if (context.now() < *deadline) {
            context.set_timer(*deadline);
            return;
        }
        is_closed_ = true;
        context.close();
    }
    void on_update(Context& context) override {
        if (!is_closed_) arm(context);
    }
    void on_stop(Context& context) override {
        context.cancel_timer();
        if (is_end_held_ && !is_closed_) context.forward_end();
        is_end_held_ = false;
    }

  private:
    void arm(Context& context) {
        if (const auto deadline = silence_deadline(last_arrival_, config_.timeout)) {
            context.set_timer(*deadline);
        } else {
            context.cancel_timer();
        }
    }

    TimeoutConfig config_;
    Micros last_arrival_{0};
    bool is_end_held_ = false;
    bool is_closed_ = false;
};

}  // namespace faultline::faults
