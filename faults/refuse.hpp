// refuse: connections are refused. `reject` stops the proxy's listener, so connects get
// ECONNREFUSED; `drop` lets its accept queue fill, so new SYNs go unanswered. Both act on the
// listener, not on connections. `reset` accepts each connection and resets it at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "faults/reset.hpp"
#include "faults/spec.hpp"

namespace faultline::faults {

enum class RefuseMode { reject, drop, reset };

struct RefuseConfig {
    RefuseMode mode = RefuseMode::reject;

    static RefuseConfig read(AttributeReader& reader) {
        const auto mode = reader.choice("mode", "reject", {"reject", "drop", "reset"});
        return {mode == "drop"    ? RefuseMode::drop
                : mode == "reset" ? RefuseMode::reset
                                  : RefuseMode::reject};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        constexpr std::string_view names[] = {"reject", "drop", "reset"};
        return {{"mode", names[static_cast<std::size_t>(mode)]}};
    }
};

// The reset mode's fault: a reset of both endpoints that throws away what was not delivered.
inline constexpr ResetConfig refuse_reset{Target::both, false};

class RefuseSpec final : public FaultSpec {
  public:
    RefuseSpec(std::string_view type, RefuseConfig config) : type_(type), config_(config) {}

    [[nodiscard]] std::string_view type() const override { return type_; }
    [[nodiscard]] nlohmann::ordered_json attributes() const override { return config_.to_json(); }
    [[nodiscard]] std::unique_ptr<Fault> create() const override {
        if (config_.mode != RefuseMode::reset) return nullptr;
        return std::make_unique<ResetFault>(refuse_reset);
    }
    // The only running faults are the reset mode's, and they have acted at their start.
    void update(Fault&) const override {}
    [[nodiscard]] ListenerAction listener_action() const override {
        switch (config_.mode) {
            case RefuseMode::reject:
                return ListenerAction::reject;
            case RefuseMode::drop:
                return ListenerAction::drop;
            case RefuseMode::reset:
                break;
        }
        return ListenerAction::none;
    }
    [[nodiscard]] const RefuseConfig& config() const { return config_; }

  private:
    std::string_view type_;
    RefuseConfig config_;
};

[[nodiscard]] inline ParsedSpecResult read_refuse_spec(std::string_view type,
                                                       const nlohmann::json& attributes) {
    ParsedSpecResult result;
    AttributeReader reader(attributes, result.errors);
    auto config = RefuseConfig::read(reader);
    reader.reject_unknown();
    result.attribute_names = reader.known();
    if (result.errors.empty()) result.spec = std::make_shared<RefuseSpec>(type, config);
    return result;
}

}  // namespace faultline::faults
