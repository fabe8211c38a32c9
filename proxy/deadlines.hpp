// The timers of one session, as arithmetic on loop times: the upstream connect must finish within
// connect_timeout, a half-closed connection must end or move a byte within half_closed_timeout,
// and any connection must move a byte within idle_timeout. A session keeps one libuv timer armed
// for the earliest deadline; activity only records a time, and when the timer fires early it is
// armed again.
#pragma once

#include <cstdint>
#include <optional>

#include "rules/config.hpp"

namespace faultline::proxy {

struct SessionTimes {
    bool is_connected = false;     // the upstream connect has completed
    std::uint64_t started_ms = 0;  // loop times, in milliseconds
    std::uint64_t last_activity_ms = 0;
    std::uint64_t half_closed_ms = 0;  // 0 while no direction has ended
};

enum class Deadline { none, connect, half_closed, idle };

// The earliest deadline still ahead or due, or nullopt when every timer is off.
[[nodiscard]] std::optional<std::uint64_t> next_deadline(const rules::ProxySettings& settings,
                                                         const SessionTimes& times);
// The deadline that has passed at `now_ms`, if any (never Deadline::none). A connect that is late
// wins; a half-close that is late wins over idleness.
[[nodiscard]] std::optional<Deadline> expired_deadline(const rules::ProxySettings& settings,
                                                       const SessionTimes& times,
                                                       std::uint64_t now_ms);

}  // namespace faultline::proxy
