// Attribute errors as one line of text, "attribute: message; ...", so that a test compares them
// with the exact expected messages and a failure prints what was seen.
#pragma once

#include <string>
#include <vector>

#include "faults/spec.hpp"

namespace faultline::faults {

inline std::string describe(const std::vector<AttributeError>& errors) {
    std::string text;
    for (const auto& error : errors)
        text += (text.empty() ? "" : "; ") + error.attribute + ": " + error.message;
    return text;
}

}  // namespace faultline::faults
