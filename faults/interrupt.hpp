// interrupt: a network interruption. From the fault's start the stream stops moving: `stall`
// holds the bytes and delivers them when the interruption ends (a link that comes back),
// `discard` swallows them (a pulled cable). In both modes the source's FIN waits for the end of
// the interruption, which comes after `duration` ms, or when the rule goes away (duration 0).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "faults/spec.hpp"

namespace faultline::faults {

enum class InterruptMode { stall, discard };

struct InterruptConfig {
    InterruptMode mode = InterruptMode::stall;
    std::chrono::milliseconds duration{0};  // 0: until the rule goes away

    static InterruptConfig read(AttributeReader& reader) {
        const auto mode = reader.choice("mode", "stall", {"stall", "discard"});
        return {mode == "discard" ? InterruptMode::discard : InterruptMode::stall,
                std::chrono::milliseconds(reader.integer("duration", 0, 0, max_milliseconds))};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return {{"mode", mode == InterruptMode::discard ? "discard" : "stall"},
                {"duration", duration.count()}};
    }
};

class InterruptFault final : public Fault {
  public:
    explicit InterruptFault(const InterruptConfig& config) : config_(config) {}
    // A new mode applies to bytes arriving afterwards (held bytes are still delivered); a new
    // duration counts from the fault's start.
    void configure(const InterruptConfig& config) { config_ = config; }

    void on_start(Context& context) override {
        started_at_ = context.now();
        is_interrupted_ = true;
        end_when_due(context);
    }
    void on_data(Context& context, std::string bytes) override {
        if (!is_interrupted_) {
            context.forward(std::move(bytes));
        } else if (config_.mode == InterruptMode::stall) {
            held_bytes_ += bytes.size();
            held_.push_back(std::move(bytes));
        } else {
            has_discarded_ = has_discarded_ || !bytes.empty();
        }
    }
    void on_end(Context& context) override {
        if (is_interrupted_) {
            is_end_held_ = true;
        } else {
            context.forward_end();
        }
    }
    void on_timer(Context& context) override { end_when_due(context); }
    void on_update(Context& context) override { end_when_due(context); }
    void on_stop(Context& context) override {
        if (is_interrupted_) end_interruption(context);
    }
    [[nodiscard]] std::size_t held_bytes() const override { return held_bytes_; }
    [[nodiscard]] bool has_broken_stream() const override { return has_discarded_; }

  private:
    // Ends the interruption if its time has come, else asks for the timer then.
    void end_when_due(Context& context) {
        if (!is_interrupted_) return;
        if (config_.duration <= std::chrono::milliseconds::zero()) {
            context.cancel_timer();
            return;
        }
        const Micros due = started_at_ + config_.duration;
        if (context.now() < due) {
            context.set_timer(due);
            return;
        }
        end_interruption(context);
    }

    void end_interruption(Context& context) {
        is_interrupted_ = false;
        context.cancel_timer();
        auto held = std::move(held_);
        held_.clear();
        held_bytes_ = 0;
        for (auto& bytes : held)
            context.forward(std::move(bytes));
        if (is_end_held_) {
            is_end_held_ = false;
            context.forward_end();
        }
    }

    InterruptConfig config_;
    Micros started_at_{0};
    bool is_interrupted_ = false;
    std::vector<std::string> held_;
    std::size_t held_bytes_ = 0;
    bool is_end_held_ = false;
    bool has_discarded_ = false;
};

}  // namespace faultline::faults
