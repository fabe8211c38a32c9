// GET /metrics: the counters and the open connections in Prometheus' text format.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "teardown/counters.hpp"

namespace faultline::control {

// `proxies`: every configured proxy, so that each has an open-connections line even at zero;
// `open`: open connections by proxy.
[[nodiscard]] std::string metrics_text(const teardown::Counters& counters,
                                       const std::vector<std::string>& proxies,
                                       const std::map<std::string, std::uint64_t>& open);

}  // namespace faultline::control
