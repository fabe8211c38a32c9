// Plain-text tables for people: `faultline ctl` and the summary of `faultline run`.
#pragma once

#include <string>
#include <vector>

namespace faultline::proxy {

using TableRow = std::vector<std::string>;

// The header and rows in columns two spaces apart, each line ending in a newline; a row may be
// shorter than the header.
[[nodiscard]] std::string format_table(const TableRow& header, const std::vector<TableRow>& rows);

}  // namespace faultline::proxy
