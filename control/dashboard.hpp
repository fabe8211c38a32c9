// The dashboard: one page (control/dashboard.html, built into the binary) that drives the API.
#pragma once

#include <string_view>

namespace faultline::control {

[[nodiscard]] std::string_view dashboard_page();

}  // namespace faultline::control
