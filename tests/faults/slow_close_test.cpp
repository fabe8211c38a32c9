// Tests for faults/slow_close.hpp: bytes pass, the end of the stream comes `delay` late.
#include "faults/slow_close.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("passes bytes at once and the end of the stream delay late") {
    FakeContext context;
    SlowCloseFault fault(SlowCloseConfig{300ms});
    fault.on_start(context);
    fault.on_data(context, "abc");
    context.advance(fault, 10ms);
    fault.on_end(context);
    context.advance(fault, 299ms);
    CHECK(context.events() == Events{data_at(0us, "abc")});
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(0us, "abc"), end_at(310ms)});
    CHECK_FALSE(context.timer());
}

TEST_CASE("with no delay the end of the stream passes at once") {
    FakeContext context;
    SlowCloseFault fault(SlowCloseConfig{});
    fault.on_start(context);
    fault.on_end(context);
    CHECK(context.events() == Events{end_at(0us)});
}

TEST_CASE("passes a held end at once when the rule goes away, and only once") {
    FakeContext context;
    SlowCloseFault fault(SlowCloseConfig{300ms});
    fault.on_start(context);
    fault.on_end(context);
    context.advance(fault, 50ms);
    fault.on_stop(context);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{end_at(50ms)});
    CHECK_FALSE(context.timer());
}

TEST_CASE("going away without an end passes nothing") {
    FakeContext context;
    SlowCloseFault fault(SlowCloseConfig{300ms});
    fault.on_start(context);
    fault.on_stop(context);
    CHECK(context.events().empty());
}

TEST_CASE("applies a new delay to an end arriving afterwards") {
    FakeContext context;
    SlowCloseFault fault(SlowCloseConfig{300ms});
    fault.on_start(context);
    fault.configure(SlowCloseConfig{20ms});
    fault.on_update(context);
    fault.on_end(context);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{end_at(20ms)});
}

}  // namespace faultline::faults
