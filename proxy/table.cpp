#include "proxy/table.hpp"

#include <algorithm>

namespace faultline::proxy {

std::string format_table(const TableRow& header, const std::vector<TableRow>& rows) {
    std::vector<std::size_t> widths(header.size());
    for (std::size_t i = 0; i < header.size(); ++i)
        widths[i] = header[i].size();
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    auto add_row = [&](const TableRow& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size() && i < widths.size()) {
                line += std::string(widths[i] - row[i].size() + 2, ' ');
            }
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + '\n';
    };
    add_row(header);
    for (const auto& row : rows)
        add_row(row);
    return out;
}

}  // namespace faultline::proxy
