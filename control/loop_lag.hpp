// How late the event loop is: data and control share one loop, so anything that blocks it delays
// every proxied byte. A periodic timer reports how much later than due it fired; this keeps the
// figures that /metrics (a histogram and the maximum) and /healthz (the maximum, and the maximum
// over the last seconds) show.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace faultline::control {

class LoopLag {
  public:
    // The histogram's upper bounds, in seconds (Prometheus' `le`); a last bucket counts all.
    static constexpr std::array<double, 12> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,   0.25,   0.5,   1.0,  2.5,   5.0};
    // What "recent" covers, in seconds.
    static constexpr std::size_t recent_seconds = 10;
    // A loop this late over the recent seconds is reported as degraded.
    static constexpr double degraded_seconds = 0.5;

    // One sample: the timer fired `seconds` late, at `now_ms` on the loop's clock.
    void record(double seconds, std::uint64_t now_ms);

    [[nodiscard]] double max_seconds() const { return max_; }
    // The maximum over the recent_seconds before the latest sample (the timer fires several times
    // a second, so that is now).
    [[nodiscard]] double recent_max_seconds() const;
    // Cumulative counts, one per bound.
    [[nodiscard]] const std::array<std::uint64_t, bounds.size()>& cumulative() const {
        return cumulative_;
    }
    [[nodiscard]] std::uint64_t count() const { return count_; }
    [[nodiscard]] double sum_seconds() const { return sum_; }

  private:
    struct Second {
        std::uint64_t second = 0;
        double max = 0;
    };

    std::array<std::uint64_t, bounds.size()> cumulative_{};
    std::array<Second, recent_seconds> recent_{};  // indexed by second, modulo their count
    std::uint64_t count_ = 0;
    double sum_ = 0;
    double max_ = 0;
    std::uint64_t latest_ms_ = 0;
};

}  // namespace faultline::control
