// Matching paths against route patterns.
#include "control/router.hpp"

namespace faultline::control {
namespace {

// The next '/'-separated segment of `text` after its leading '/'; `text` moves past it.
std::string_view next_segment(std::string_view& text) {
    if (!text.empty() && text.front() == '/') text.remove_prefix(1);
    auto end = text.find('/');
    std::string_view segment = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    return segment;
}

}  // namespace

const std::string& RoutedRequest::parameter(std::string_view name) const {
    static const std::string none;
    for (const auto& [key, value] : parameters) {
        if (key == name) return value;
    }
    return none;
}

bool match_path(std::string_view pattern, std::string_view path,
                std::vector<std::pair<std::string_view, std::string>>& parameters) {
    parameters.clear();
    if (pattern == "/" || path == "/") return pattern == path;
    while (!pattern.empty() || !path.empty()) {
        if (pattern.empty() || path.empty()) return false;
        std::string_view expected = next_segment(pattern);
        std::string_view segment = next_segment(path);
        if (expected.starts_with('{') && expected.ends_with('}')) {
            if (segment.empty()) return false;
            parameters.emplace_back(expected.substr(1, expected.size() - 2), segment);
        } else if (expected != segment) {
            return false;
        }
    }
    return true;
}

}  // namespace faultline::control
