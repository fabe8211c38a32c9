// Configuration tests compare every message parse_config reports, one a line, with the exact
// expected ones, for files built in part from the tables below.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "rules/config.hpp"

namespace faultline::rules {

struct InvalidCase {
    std::string text;
    std::vector<std::string> errors;
};

inline std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines)
        out += (out.empty() ? "" : "\n") + line;
    return out;
}

// Every message parse_config reports for `text` (as "chaos.toml"), one a line, or "(valid)".
inline std::string errors_of(std::string_view text) {
    try {
        static_cast<void>(parse_config(text, "chaos.toml"));
    } catch (const ConfigError& error) {
        CHECK(std::string(error.what()) == joined(error.errors()));
        return joined(error.errors());
    }
    return "(valid)";
}

// The lines of a [[proxy]] table with the three keys every proxy needs.
inline std::string proxy_table(const std::string& name, const std::string& listen,
                               const std::string& upstream) {
    return "[[proxy]]\nname = \"" + name + "\"\nlisten = \"" + listen + "\"\nupstream = \"" +
           upstream + "\"\n";
}

// The lines of a [[proxy.rule]] table with the two keys every rule needs, each after `indent`.
inline std::string rule_table(const std::string& name, const std::string& type,
                              const std::string& indent = "") {
    return indent + "[[proxy.rule]]\n" + indent + "name = \"" + name + "\"\n" + indent +
           "type = \"" + type + "\"\n";
}

inline void check_invalid(const std::vector<InvalidCase>& cases) {
    for (const auto& invalid : cases) {
        CAPTURE(invalid.text);
        CHECK(errors_of(invalid.text) == joined(invalid.errors));
    }
}

}  // namespace faultline::rules
