// `faultline ctl`: the control API from the command line. Human-readable tables by default,
// `--json` for scripts; on failure the API's message and a non-zero exit status.
#pragma once

#include <string_view>
#include <vector>

namespace faultline::proxy {}
namespace faultline::control {}
namespace faultline::teardown {}
namespace faultline::cli {

using namespace faultline::proxy;    // NOLINT: until the control/cli split
using namespace faultline::control;  // NOLINT
using namespace faultline::teardown; // NOLINT

// Runs one ctl command (the arguments after `ctl`); returns the exit status.
int run_ctl(const std::vector<std::string_view>& args);

}  // namespace faultline::cli
