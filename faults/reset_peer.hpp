// reset_peer (Toxiproxy): `timeout` ms after the first byte this fault sees, both endpoints are
// reset; bytes that arrive before that pass. On a connection that existed before the rule, the
// count starts at the first byte after the rule arrived.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

struct ResetPeerConfig {
    std::chrono::milliseconds timeout{0};

    static ResetPeerConfig read(AttributeReader& reader) {
        return {std::chrono::milliseconds(reader.integer("timeout", 0, 0, max_milliseconds))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const { return {{"timeout", timeout.count()}}; }
};

class ResetPeerFault final : public Fault {
  public:
    explicit ResetPeerFault(const ResetPeerConfig& config) : config_(config) {}
    void configure(const ResetPeerConfig& config) { config_ = config; }

    void on_data(Context& context, std::string bytes) override {
        if (is_reset_) return;
        context.forward(std::move(bytes));
        if (first_byte_at_) return;
        first_byte_at_ = context.now();
        reset_when_due(context);
    }
    void on_end(Context& context) override {
        if (!is_reset_) context.forward_end();
    }
    void on_timer(Context& context) override { reset_when_due(context); }
    void on_update(Context& context) override { reset_when_due(context); }
    void on_stop(Context& context) override { context.cancel_timer(); }

  private:
    // Resets now if the time has come, else asks for the timer then.
    void reset_when_due(Context& context) {
        if (is_reset_ || !first_byte_at_) return;
        const Micros due = *first_byte_at_ + config_.timeout;
        if (context.now() < due) {
            context.set_timer(due);
            return;
        }
        is_reset_ = true;
        context.cancel_timer();
        context.reset(Target::both, false);
    }

    ResetPeerConfig config_;
    std::optional<Micros> first_byte_at_;
    bool is_reset_ = false;
};

}  // namespace faultline::faults
