// Plain-text tables for people: `faultline ctl` and the summary of `faultline run`.
#pragma once

#include <string>
#include <vector>

namespace faultline::cli {

using TableRow = std::vector<std::string>;

// One line: each cell but the last padded to its column's width, then two spaces; a cell wider
// than its column pushes the rest right. Ends in a newline.
[[nodiscard]] std::string format_row(const TableRow& row, const std::vector<std::size_t>& widths);
// The header and rows in columns two spaces apart, each as wide as its widest cell; a row may be
// shorter than the header.
[[nodiscard]] std::string format_table(const TableRow& header, const std::vector<TableRow>& rows);

}  // namespace faultline::cli
