// Tests for faults/refuse.hpp: reject and drop act on the listener, reset on each connection.
#include "faults/refuse.hpp"

#include <doctest/doctest.h>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("reject and drop act on the listener and make no per-connection fault") {
    const auto reject = read_refuse_spec("refuse", nlohmann::json());
    REQUIRE(reject.spec);
    CHECK(reject.spec->listener_action() == ListenerAction::reject);
    CHECK(reject.spec->create() == nullptr);
    CHECK(reject.spec->attributes().dump() == R"({"mode":"reject"})");

    const auto drop = read_refuse_spec("refuse", {{"mode", "drop"}});
    REQUIRE(drop.spec);
    CHECK(drop.spec->listener_action() == ListenerAction::drop);
    CHECK(drop.spec->create() == nullptr);
    CHECK(drop.spec->end_reason() == EndReason::deny);
}

TEST_CASE("reset leaves the listener alone and resets each connection as it starts") {
    const auto parsed = read_refuse_spec("refuse", {{"mode", "reset"}});
    REQUIRE(parsed.spec);
    CHECK(parsed.spec->type() == "refuse");
    CHECK(parsed.spec->listener_action() == ListenerAction::none);
    auto fault = parsed.spec->create();
    REQUIRE(fault);
    FakeContext context(Stream::downstream, 3ms);
    fault->on_start(context);
    fault->on_data(context, "late");
    parsed.spec->update(*fault);
    fault->on_update(context);
    CHECK(context.events() == Events{reset_at(3ms, Target::both, false)});
}

TEST_CASE("reports a wrong mode and unknown attributes") {
    const auto parsed = read_refuse_spec("refuse", {{"mode", "refuse"}, {"port", 1}});
    CHECK_FALSE(parsed.spec);
    CHECK(describe(parsed.errors) ==
          "mode: unknown value 'refuse'; known: reject, drop, reset; "
          "port: unknown attribute; known: mode");
}

}  // namespace faultline::faults
