// The per-proxy diagnosis that the teardown reference reasons about: when over one window both
// the connect rate and the share of upstream resets and refusals are high, the upstream is
// refusing connections. Pure arithmetic on loop times, so it is tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace faultline::proxy {

class RefusalDiagnosis {
  public:
    struct Settings {
        std::uint64_t window_ms = 60'000;
        std::size_t min_connects = 20;
        double threshold = 0.5;  // share of connects the upstream reset or refused, exclusive
    };
    enum class Change { none, started, recovered };
    struct Figures {
        std::size_t connects = 0;
        std::size_t upstream_failures = 0;
    };

    RefusalDiagnosis() = default;
    explicit RefusalDiagnosis(Settings settings) : settings_(settings) {}

    // One connection's outcome at loop time `now_ms`; says whether the diagnosis just started or
    // just cleared.
    Change record(std::uint64_t now_ms, bool upstream_failed);
    [[nodiscard]] Figures figures() const { return {outcomes_.size(), failures_}; }
    [[nodiscard]] bool is_active() const { return is_active_; }

  private:
    struct Outcome {
        std::uint64_t at_ms;
        bool failed;
    };

    Settings settings_;
    std::deque<Outcome> outcomes_;
    std::size_t failures_ = 0;
    bool is_active_ = false;
};

}  // namespace faultline::proxy
