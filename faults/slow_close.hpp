// slow_close (Toxiproxy): bytes pass; the end of the stream (the source's FIN) is passed on
// `delay` ms after it arrived.
#pragma once

#include <chrono>
#include <string>

#include "faults/spec.hpp"

namespace faultline::faults {

struct SlowCloseConfig {
    std::chrono::milliseconds delay{0};

    static SlowCloseConfig read(AttributeReader& reader) {
        return {std::chrono::milliseconds(reader.integer("delay", 0, 0, max_milliseconds))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const { return {{"delay", delay.count()}}; }
};

class SlowCloseFault final : public Fault {
  public:
    explicit SlowCloseFault(const SlowCloseConfig& config) : config_(config) {}
    // Applies to an end arriving afterwards; a held end keeps its time.
    void configure(const SlowCloseConfig& config) { config_ = config; }

    void on_end(Context& context) override {
        if (config_.delay <= std::chrono::milliseconds::zero()) {
            context.forward_end();
            return;
        }
        is_end_held_ = true;
        context.set_timer(context.now() + config_.delay);
    }
    void on_timer(Context& context) override { forward_held_end(context); }
    void on_stop(Context& context) override {
        context.cancel_timer();
        forward_held_end(context);
    }

  private:
    void forward_held_end(Context& context) {
        if (!is_end_held_) return;
        is_end_held_ = false;
        context.forward_end();
    }

    SlowCloseConfig config_;
    bool is_end_held_ = false;
};

}  // namespace faultline::faults
