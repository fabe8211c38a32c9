// GET /metrics: the counters, the open connections and the event loop's lag in Prometheus'
// text format.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "control/loop_lag.hpp"
#include "teardown/counters.hpp"

namespace faultline::control {

// `proxies`: every configured proxy, so that each has an open-connections line even at zero;
// `open`: open connections by proxy; `lag`: the event loop's.
[[nodiscard]] std::string metrics_text(const teardown::Counters& counters,
                                       const std::vector<std::string>& proxies,
                                       const std::map<std::string, std::uint64_t>& open,
                                       const LoopLag& lag);

}  // namespace faultline::control
