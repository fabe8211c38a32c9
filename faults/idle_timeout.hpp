// idle_timeout: a middlebox that expires idle flows. After `timeout` ms with no byte in either
// direction, it closes the connection (fin), resets it (rst), or silently forgets it (forget:
// later bytes from either side are swallowed). Connections it ends are recorded as Conn-timeout.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

enum class IdleAction { fin, rst, forget };

struct IdleTimeoutConfig {
    static constexpr EndReason end_reason = EndReason::idle_timeout;

    std::chrono::milliseconds timeout{0};  // always > 0
    IdleAction action = IdleAction::fin;

    static IdleTimeoutConfig read(AttributeReader& reader) {
        const auto timeout = reader.positive_integer("timeout", max_milliseconds);
        const auto action = reader.choice("action", "fin", {"fin", "rst", "forget"});
        return {std::chrono::milliseconds(timeout), action == "rst"      ? IdleAction::rst
                                                    : action == "forget" ? IdleAction::forget
                                                                         : IdleAction::fin};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        constexpr std::string_view names[] = {"fin", "rst", "forget"};
        return {{"timeout", timeout.count()}, {"action", names[static_cast<std::size_t>(action)]}};
    }
};

// When the flow expires: `timeout` after its last activity, counted no earlier than the fault's
// start (a middlebox cannot have seen the idle time before it was there).
[[nodiscard]] inline Micros idle_deadline(Micros last_activity, Micros started_at,
                                          std::chrono::milliseconds timeout) {
    return std::max(last_activity, started_at) + timeout;
}

class IdleTimeoutFault final : public Fault {
  public:
    explicit IdleTimeoutFault(const IdleTimeoutConfig& config) : config_(config) {}
    void configure(const IdleTimeoutConfig& config) { config_ = config; }

    void on_start(Context& context) override {
        started_at_ = context.now();
        expire_when_due(context);
    }
    void on_data(Context& context, std::string bytes) override {
        if (!is_expired_) context.forward(std::move(bytes));
    }
    void on_end(Context& context) override {
        if (!is_expired_) context.forward_end();
    }
    void on_timer(Context& context) override { expire_when_due(context); }
    void on_update(Context& context) override { expire_when_due(context); }
    void on_stop(Context& context) override { context.cancel_timer(); }
    // A forgotten flow has swallowed whatever came since: it cannot simply go on.
    [[nodiscard]] bool has_broken_stream() const override {
        return is_expired_ && config_.action == IdleAction::forget;
    }

  private:
    // Acts if the flow has been idle long enough, else asks for the timer at the deadline that
    // the latest activity set.
    void expire_when_due(Context& context) {
        if (is_expired_) return;
        const Micros due = idle_deadline(context.last_activity(), started_at_, config_.timeout);
        if (context.now() < due) {
            context.set_timer(due);
            return;
        }
        is_expired_ = true;
        context.cancel_timer();
        switch (config_.action) {
            case IdleAction::fin:
                context.close();
                break;
            case IdleAction::rst:
                context.reset(Target::both, false);
                break;
            case IdleAction::forget:
                context.go_silent();
                break;
        }
    }

    IdleTimeoutConfig config_;
    Micros started_at_{0};
    bool is_expired_ = false;
};

}  // namespace faultline::faults
