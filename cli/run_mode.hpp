// `faultline run --config FILE [--report FILE] [--junit FILE] -- COMMAND ARGS...`: CI mode.
// Starts the proxies, runs the command with each proxy's address in FAULTLINE_<NAME>_ADDR,
// stops the proxies when it ends, prints what happened, writes the reports, checks [[expect]]
// and exits with the command's status (or 1 when it passed but an expectation was not met).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace faultline::cli {

// The environment variable for a proxy's address: "pg-main" gives FAULTLINE_PG_MAIN_ADDR.
[[nodiscard]] std::string address_variable(std::string_view proxy_name);

// Returns the exit status. Usage and configuration errors print their message and return 2.
[[nodiscard]] int run_mode(const std::vector<std::string_view>& args);

}  // namespace faultline::cli
