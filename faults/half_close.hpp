// half_close: what happens to the end of a stream (its source's FIN). drop_fin: it is never
// passed on while the rule is active; early_fin: the destination gets a FIN when the fault starts
// and later bytes are dropped; fin_to_rst: the FIN becomes an RST to the destination; collapse:
// the FIN passes, and bytes that the other side keeps sending draw an RST, as after a full close.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "faults/spec.hpp"

namespace faultline::faults {

enum class HalfCloseMode { drop_fin, early_fin, fin_to_rst, collapse };

struct HalfCloseConfig {
    HalfCloseMode mode = HalfCloseMode::drop_fin;

    static HalfCloseConfig read(AttributeReader& reader) {
        const auto mode =
            reader.required_choice("mode", {"drop_fin", "early_fin", "fin_to_rst", "collapse"});
        return {mode == "early_fin"    ? HalfCloseMode::early_fin
                : mode == "fin_to_rst" ? HalfCloseMode::fin_to_rst
                : mode == "collapse"   ? HalfCloseMode::collapse
                                       : HalfCloseMode::drop_fin};
    }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        constexpr std::string_view names[] = {"drop_fin", "early_fin", "fin_to_rst", "collapse"};
        return {{"mode", names[static_cast<std::size_t>(mode)]}};
    }
};

// The endpoint a stream's bytes go to: the server for upstream, the client for downstream.
[[nodiscard]] inline Target destination_of(Stream stream) {
    return stream == Stream::upstream ? Target::server : Target::client;
}

class HalfCloseFault final : public Fault {
  public:
    explicit HalfCloseFault(const HalfCloseConfig& config) : config_(config) {}
    // The new mode takes over a FIN that drop_fin holds; early_fin sends its FIN at once.
    void configure(const HalfCloseConfig& config) { config_ = config; }

    void on_start(Context& context) override {
        if (config_.mode == HalfCloseMode::early_fin) send_early_fin(context);
    }
    void on_data(Context& context, std::string bytes) override {
        if (!is_end_sent_) context.forward(std::move(bytes));
    }
    void on_end(Context& context) override {
        switch (config_.mode) {
            case HalfCloseMode::drop_fin:
                is_fin_held_ = true;
                break;
            case HalfCloseMode::early_fin:
                break;  // the destination already has its FIN
            case HalfCloseMode::fin_to_rst:
                is_end_sent_ = true;
                context.reset(destination_of(context.stream()), true);
                break;
            case HalfCloseMode::collapse:
                is_end_sent_ = true;
                context.forward_end();
                context.reset_on_reverse_data();
                break;
        }
    }
    void on_update(Context& context) override {
        if (config_.mode == HalfCloseMode::early_fin) {
            send_early_fin(context);
        } else if (is_fin_held_ && config_.mode != HalfCloseMode::drop_fin) {
            is_fin_held_ = false;
            on_end(context);
        }
    }
    void on_stop(Context& context) override {
        if (!is_fin_held_) return;
        is_fin_held_ = false;
        context.forward_end();
    }

  private:
    void send_early_fin(Context& context) {
        if (is_end_sent_) return;
        is_end_sent_ = true;
        is_fin_held_ = false;
        context.forward_end();
    }

    HalfCloseConfig config_;
    bool is_fin_held_ = false;  // drop_fin keeps the source's FIN here
    bool is_end_sent_ = false;  // a FIN or an RST went to the destination: nothing may follow
};

}  // namespace faultline::faults
