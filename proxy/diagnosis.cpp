// Sliding-window arithmetic of the refusal diagnosis.
#include "proxy/diagnosis.hpp"

namespace faultline::proxy {

RefusalDiagnosis::Change RefusalDiagnosis::record(std::uint64_t now_ms, bool upstream_failed) {
    outcomes_.push_back({now_ms, upstream_failed});
    if (upstream_failed) ++failures_;
    while (!outcomes_.empty() && outcomes_.front().at_ms + settings_.window_ms <= now_ms) {
        if (outcomes_.front().failed) --failures_;
        outcomes_.pop_front();
    }
    bool is_high = outcomes_.size() >= settings_.min_connects &&
                   static_cast<double>(failures_) >
                       settings_.threshold * static_cast<double>(outcomes_.size());
    if (is_high == is_active_) return Change::none;
    is_active_ = is_high;
    return is_high ? Change::started : Change::recovered;
}

}  // namespace faultline::proxy
