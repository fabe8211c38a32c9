// Tests for faults/reset.hpp: the target endpoints are reset as the fault starts.
#include "faults/reset.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("resets the target endpoints, with or without flushing, as soon as it starts") {
    for (const auto target : {Target::client, Target::server, Target::both}) {
        for (const bool flush : {false, true}) {
            CAPTURE(target_name(target));
            CAPTURE(flush);
            Started<ResetFault> reset(ResetConfig{target, flush}, Stream::downstream, 2s);
            CHECK(reset.events() == Events{reset_at(2s, target, flush)});
        }
    }
}

TEST_CASE("nothing passes once the connection is reset") {
    Started<ResetFault> reset(ResetConfig{});
    reset.data("late").end();
    CHECK(reset.events() == Events{reset_at(0us, Target::both, false)});
}

TEST_CASE("reads target and flush, with both and false by default") {
    std::vector<AttributeError> errors;
    const nlohmann::json none;
    AttributeReader defaults(none, errors);
    CHECK(ResetConfig::read(defaults).to_json().dump() == R"({"target":"both","flush":false})");
    const nlohmann::json client{{"target", "client"}, {"flush", true}};
    AttributeReader given(client, errors);
    const auto config = ResetConfig::read(given);
    CHECK(config.target == Target::client);
    CHECK(config.flush);
    const nlohmann::json peer{{"target", "peer"}};
    AttributeReader wrong(peer, errors);
    (void)ResetConfig::read(wrong);
    CHECK(describe(errors) == "target: unknown value 'peer'; known: client, server, both");
}

}  // namespace faultline::faults
