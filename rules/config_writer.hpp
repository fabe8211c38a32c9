// The running configuration written back as TOML that `faultline serve --config` accepts: what
// `GET /config` answers, so that proxies and rules made through the API can be saved.
#pragma once

#include <string>

#include "rules/config.hpp"

namespace faultline::rules {

// Every proxy and rule with all its settings; the API token is left out (a comment says so).
[[nodiscard]] std::string to_toml(const Config& config);

}  // namespace faultline::rules
