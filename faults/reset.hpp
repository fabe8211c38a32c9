// reset: as soon as the fault starts, the target endpoints get an RST and the connection ends.
// Without `flush`, bytes not yet delivered are thrown away, so the RST overtakes them.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

[[nodiscard]] inline std::string_view target_name(Target target) {
    switch (target) {
        case Target::client:
            return "client";
        case Target::server:
            return "server";
        case Target::both:
            break;
    }
    return "both";
}

struct ResetConfig {
    Target target = Target::both;
    bool flush = false;

    static ResetConfig read(AttributeReader& reader) {
        const auto target = reader.choice("target", "both", {"client", "server", "both"});
        return {target == "client"   ? Target::client
                : target == "server" ? Target::server
                                     : Target::both,
                reader.boolean("flush", false)};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return {{"target", target_name(target)}, {"flush", flush}};
    }
};

class ResetFault final : public Fault {
  public:
    explicit ResetFault(const ResetConfig& config) : config_(config) {}
    void configure(const ResetConfig& config) { config_ = config; }

    void on_start(Context& context) override {
        is_reset_ = true;
        context.reset(config_.target, config_.flush);
    }
    // Once the connection is reset, nothing more passes.
    void on_data(Context& context, std::string bytes) override {
        if (!is_reset_) context.forward(std::move(bytes));
    }
    void on_end(Context& context) override {
        if (!is_reset_) context.forward_end();
    }

  private:
    ResetConfig config_;
    bool is_reset_ = false;
};

}  // namespace faultline::faults
