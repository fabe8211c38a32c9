// Column widths and padding for the tables that ctl and CI mode print.
#include "cli/table.hpp"

#include <algorithm>

namespace faultline::cli {

std::string format_row(const TableRow& row, const std::vector<std::size_t>& widths) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) {
            std::size_t width = i < widths.size() ? widths[i] : 0;
            line += std::string(width > row[i].size() ? width - row[i].size() + 2 : 2, ' ');
        }
    }
    while (!line.empty() && line.back() == ' ')
        line.pop_back();
    return line + '\n';
}

std::string format_table(const TableRow& header, const std::vector<TableRow>& rows) {
    std::vector<std::size_t> widths(header.size());
    for (std::size_t i = 0; i < header.size(); ++i)
        widths[i] = header[i].size();
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out = format_row(header, widths);
    for (const auto& row : rows)
        out += format_row(row, widths);
    return out;
}

}  // namespace faultline::cli
