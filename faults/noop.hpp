// noop: does nothing. Useful to see a rule's matching and firing without any effect.
#pragma once

#include "faults/spec.hpp"

namespace faultline::faults {

struct NoopConfig {
    static NoopConfig read(AttributeReader&) { return {}; }
    [[nodiscard]] nlohmann::ordered_json to_json() const {
        return nlohmann::ordered_json::object();
    }
};

class NoopFault final : public Fault {
  public:
    explicit NoopFault(const NoopConfig&) {}
    void configure(const NoopConfig&) {}
};

}  // namespace faultline::faults
