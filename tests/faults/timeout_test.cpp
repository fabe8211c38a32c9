// Tests for faults/timeout.hpp: bytes are dropped, the connection is closed after a silence.
#include "faults/timeout.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("the deadline is the last arrival plus the timeout, and 0 means never") {
    CHECK(silence_deadline(5ms, 100ms) == 105ms);
    CHECK_FALSE(silence_deadline(5ms, 0ms));
}

TEST_CASE("drops bytes and closes the connection after timeout ms counted from its start") {
    FakeContext context(Stream::downstream, 1s);
    TimeoutFault fault(TimeoutConfig{100ms});
    fault.on_start(context);
    context.advance(fault, 30ms);
    fault.on_data(context, "dropped");
    CHECK(fault.held_bytes() == 0u);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{close_at(1s + 130ms)});
}

TEST_CASE("each arriving chunk restarts the count") {
    FakeContext context;
    TimeoutFault fault(TimeoutConfig{100ms});
    fault.on_start(context);
    context.advance(fault, 99ms);
    fault.on_data(context, "a");
    context.advance(fault, 99ms);
    fault.on_data(context, "b");
    context.advance(fault, 99ms);
    CHECK(context.events().empty());
    context.advance(fault, 1s);
    CHECK(context.events() == Events{close_at(298ms)});
}

TEST_CASE("a timeout of 0 drops bytes and never closes") {
    FakeContext context;
    TimeoutFault fault(TimeoutConfig{});
    fault.on_start(context);
    fault.on_data(context, "dropped");
    context.advance(fault, 24h);
    CHECK(context.events().empty());
    CHECK_FALSE(context.timer());
}

TEST_CASE("holds the end of the stream and passes it when the rule goes away") {
    FakeContext context;
    TimeoutFault fault(TimeoutConfig{});
    fault.on_start(context);
    fault.on_data(context, "dropped");
    fault.on_end(context);
    context.advance(fault, 1s);
    CHECK(context.events().empty());
    fault.on_stop(context);
    CHECK(context.events() == Events{end_at(1s)});
}

TEST_CASE("going away cancels the close; after a close, a held end is not passed") {
    FakeContext context;
    TimeoutFault fault(TimeoutConfig{100ms});
    fault.on_start(context);
    fault.on_stop(context);
    CHECK_FALSE(context.timer());

    FakeContext closed;
    TimeoutFault closing(TimeoutConfig{100ms});
    closing.on_start(closed);
    closing.on_end(closed);
    closed.advance(closing, 1s);
    closing.on_stop(closed);
    CHECK(closed.events() == Events{close_at(100ms)});
}

TEST_CASE("a new timeout applies at once, from the last arrival") {
    FakeContext context;
    TimeoutFault fault(TimeoutConfig{1000ms});
    fault.on_start(context);
    context.advance(fault, 200ms);
    fault.configure(TimeoutConfig{100ms});  // the deadline, 100 ms, has passed
    fault.on_update(context);
    context.advance(fault, 0ms);
    CHECK(context.events() == Events{close_at(200ms)});

    FakeContext never;
    TimeoutFault later(TimeoutConfig{});
    later.on_start(never);
    never.advance(later, 50ms);
    later.configure(TimeoutConfig{100ms});
    later.on_update(never);
    never.advance(later, 1s);
    CHECK(never.events() == Events{close_at(100ms)});
}

}  // namespace faultline::faults
