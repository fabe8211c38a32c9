// Deadline arithmetic for sessions.
#include "proxy/deadlines.hpp"

#include <algorithm>

namespace faultline::proxy {
namespace {

// since + timeout, or nullopt when the timer is off.
std::optional<std::uint64_t> due(std::uint64_t since_ms, rules::Duration timeout) {
    if (timeout.count() <= 0) return std::nullopt;
    return since_ms + static_cast<std::uint64_t>(timeout.count());
}

// As on the ASA, the half-closed timeout is an idle timer of half-closed connections: a download
// that keeps flowing after the client's FIN is not cut.
std::optional<std::uint64_t> half_closed_due(const rules::ProxySettings& settings,
                                             const SessionTimes& times) {
    if (times.half_closed_ms == 0) return std::nullopt;
    return due(std::max(times.half_closed_ms, times.last_activity_ms),
               settings.half_closed_timeout);
}

}  // namespace

std::optional<std::uint64_t> next_deadline(const rules::ProxySettings& settings,
                                           const SessionTimes& times) {
    if (!times.is_connected) return due(times.started_ms, settings.connect_timeout);
    auto idle = due(times.last_activity_ms, settings.idle_timeout);
    auto half_closed = half_closed_due(settings, times);
    if (idle && half_closed) return std::min(*idle, *half_closed);
    return idle ? idle : half_closed;
}

std::optional<Deadline> expired_deadline(const rules::ProxySettings& settings,
                                         const SessionTimes& times, std::uint64_t now_ms) {
    auto passed = [now_ms](std::optional<std::uint64_t> at) { return at && now_ms >= *at; };
    if (!times.is_connected) {
        if (passed(due(times.started_ms, settings.connect_timeout))) return Deadline::connect;
        return std::nullopt;
    }
    if (passed(half_closed_due(settings, times))) return Deadline::half_closed;
    if (passed(due(times.last_activity_ms, settings.idle_timeout))) return Deadline::idle;
    return std::nullopt;
}

}  // namespace faultline::proxy
