// The loop-lag histogram and the maxima.
#include "control/loop_lag.hpp"

#include <algorithm>

namespace faultline::control {

void LoopLag::record(double seconds, std::uint64_t now_ms) {
    seconds = std::max(seconds, 0.0);
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (seconds <= bounds[i]) ++cumulative_[i];
    }
    ++count_;
    sum_ += seconds;
    max_ = std::max(max_, seconds);
    latest_ms_ = now_ms;
    std::uint64_t second = now_ms / 1000;
    Second& slot = recent_[second % recent_.size()];
    if (slot.second != second) slot = {second, 0};
    slot.max = std::max(slot.max, seconds);
}

double LoopLag::recent_max_seconds() const {
    std::uint64_t now = latest_ms_ / 1000;
    double max = 0;
    for (const Second& slot : recent_) {
        if (slot.second + recent_.size() > now) max = std::max(max, slot.max);
    }
    return max;
}

}  // namespace faultline::control
