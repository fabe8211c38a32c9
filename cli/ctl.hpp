// `faultline ctl`: the control API from the command line. Human-readable tables by default,
// `--json` for scripts; on failure the API's message and a non-zero exit status.
#pragma once

#include <string_view>
#include <vector>

namespace faultline::cli {

// Runs one ctl command (the arguments after `ctl`); returns the exit status.
int run_ctl(const std::vector<std::string_view>& args);

}  // namespace faultline::cli
