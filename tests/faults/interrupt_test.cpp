// Tests for faults/interrupt.hpp: stall and discard, the held end, the end of the interruption
// by its duration or by the rule going away.
#include "faults/interrupt.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("stall holds bytes from the start and delivers them when the duration is over") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{InterruptMode::stall, 100ms});
    fault.on_start(context);
    context.advance(fault, 10ms);
    fault.on_data(context, "ab");
    context.advance(fault, 10ms);
    fault.on_data(context, "cd");
    CHECK(fault.held_bytes() == 4u);
    context.advance(fault, 79ms);
    CHECK(context.events().empty());
    context.advance(fault, 51ms);
    fault.on_data(context, "ef");
    CHECK(context.events() ==
          Events{data_at(100ms, "ab"), data_at(100ms, "cd"), data_at(150ms, "ef")});
    CHECK(fault.held_bytes() == 0u);
}

TEST_CASE("discard swallows bytes during the interruption, then bytes pass") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{InterruptMode::discard, 100ms});
    fault.on_start(context);
    fault.on_data(context, "lost");
    CHECK(fault.held_bytes() == 0u);
    context.advance(fault, 150ms);
    fault.on_data(context, "ef");
    CHECK(context.events() == Events{data_at(150ms, "ef")});
}

TEST_CASE("in both modes the end of the stream waits for the end of the interruption") {
    for (const auto mode : {InterruptMode::stall, InterruptMode::discard}) {
        CAPTURE(static_cast<int>(mode));
        FakeContext context;
        InterruptFault fault(InterruptConfig{mode, 100ms});
        fault.on_start(context);
        fault.on_data(context, "a");
        context.advance(fault, 20ms);
        fault.on_end(context);
        context.advance(fault, 1s);
        const Events stalled{data_at(100ms, "a"), end_at(100ms)};
        const Events discarded{end_at(100ms)};
        CHECK(context.events() == (mode == InterruptMode::stall ? stalled : discarded));
    }
}

TEST_CASE("a duration of 0 lasts until the rule goes away, which delivers what was held") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{});
    fault.on_start(context);
    fault.on_data(context, "held");
    fault.on_end(context);
    context.advance(fault, 1h);
    CHECK(context.events().empty());
    CHECK_FALSE(context.timer());
    fault.on_stop(context);
    CHECK(context.events() == Events{data_at(1h, "held"), end_at(1h)});
}

TEST_CASE("the rule going away ends the interruption early and cancels its timer") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{InterruptMode::stall, 100ms});
    fault.on_start(context);
    fault.on_data(context, "x");
    context.advance(fault, 50ms);
    fault.on_stop(context);
    CHECK(context.events() == Events{data_at(50ms, "x")});
    CHECK_FALSE(context.timer());
}

TEST_CASE("the rule going away after the interruption ended does nothing more") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{InterruptMode::stall, 100ms});
    fault.on_start(context);
    context.advance(fault, 200ms);
    fault.on_end(context);
    fault.on_stop(context);
    CHECK(context.events() == Events{end_at(200ms)});
}

TEST_CASE("a new duration counts from the start of the interruption") {
    FakeContext context;
    InterruptFault fault(InterruptConfig{});
    fault.on_start(context);
    fault.on_data(context, "x");
    context.advance(fault, 100ms);
    fault.configure(InterruptConfig{InterruptMode::stall, 50ms});
    fault.on_update(context);
    CHECK(context.events() == Events{data_at(100ms, "x")});

    FakeContext longer;
    InterruptFault extended(InterruptConfig{InterruptMode::stall, 100ms});
    extended.on_start(longer);
    longer.advance(extended, 50ms);
    extended.configure(InterruptConfig{InterruptMode::stall, 300ms});
    extended.on_update(longer);
    extended.on_data(longer, "y");
    longer.advance(extended, 1s);
    CHECK(longer.events() == Events{data_at(300ms, "y")});
}

}  // namespace faultline::faults

namespace faultline::faults {

TEST_CASE("a discard that swallowed bytes leaves a broken stream; a stall does not") {
    FakeContext context;
    InterruptFault discard(InterruptConfig{InterruptMode::discard, std::chrono::milliseconds(0)});
    discard.on_start(context);
    CHECK_FALSE(discard.has_broken_stream());
    discard.on_data(context, "lost");
    CHECK(discard.has_broken_stream());

    InterruptFault stall(InterruptConfig{InterruptMode::stall, std::chrono::milliseconds(0)});
    stall.on_start(context);
    stall.on_data(context, "kept");
    stall.on_stop(context);
    CHECK_FALSE(stall.has_broken_stream());
}

}  // namespace faultline::faults
