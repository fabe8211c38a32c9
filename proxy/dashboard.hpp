// The dashboard: one page (proxy/dashboard.html, built into the binary) that drives the API.
#pragma once

#include <string_view>

namespace faultline::proxy {

[[nodiscard]] std::string_view dashboard_page();

}  // namespace faultline::proxy
