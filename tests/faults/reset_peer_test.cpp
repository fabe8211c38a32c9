// Tests for faults/reset_peer.hpp: both ends are reset `timeout` after the first byte.
#include "faults/reset_peer.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("resets both ends timeout ms after the first byte, passing the bytes before") {
    FakeContext context;
    ResetPeerFault fault(ResetPeerConfig{100ms});
    fault.on_start(context);
    context.advance(fault, 10ms);
    fault.on_data(context, "a");
    context.advance(fault, 40ms);
    fault.on_data(context, "b");
    context.advance(fault, 1s);
    fault.on_data(context, "after");
    CHECK(context.events() ==
          Events{data_at(10ms, "a"), data_at(50ms, "b"), reset_at(110ms, Target::both, false)});
}

TEST_CASE("a timeout of 0 resets at the first byte, after passing it") {
    FakeContext context;
    ResetPeerFault fault(ResetPeerConfig{});
    fault.on_start(context);
    context.advance(fault, 10ms);
    fault.on_data(context, "first");
    CHECK(context.events() == Events{data_at(10ms, "first"), reset_at(10ms, Target::both, false)});
    CHECK_FALSE(context.timer());
}

TEST_CASE("never resets without a byte, and passes the end of the stream") {
    FakeContext context;
    ResetPeerFault fault(ResetPeerConfig{100ms});
    fault.on_start(context);
    fault.on_end(context);
    context.advance(fault, 1h);
    CHECK(context.events() == Events{end_at(0us)});
    CHECK_FALSE(context.timer());
}

TEST_CASE("on a connection older than the rule, counts from the first byte after the start") {
    FakeContext context(Stream::upstream, 1h);
    ResetPeerFault fault(ResetPeerConfig{100ms});
    fault.on_start(context);
    context.advance(fault, 5s);
    fault.on_data(context, "x");
    context.advance(fault, 1s);
    CHECK(context.events() ==
          Events{data_at(1h + 5s, "x"), reset_at(1h + 5s + 100ms, Target::both, false)});
}

TEST_CASE("going away cancels the pending reset") {
    FakeContext context;
    ResetPeerFault fault(ResetPeerConfig{100ms});
    fault.on_start(context);
    fault.on_data(context, "x");
    fault.on_stop(context);
    CHECK_FALSE(context.timer());
    CHECK(context.events() == Events{data_at(0us, "x")});
}

TEST_CASE("a new timeout moves the pending reset") {
    FakeContext context;
    ResetPeerFault fault(ResetPeerConfig{100ms});
    fault.on_start(context);
    fault.on_data(context, "x");
    context.advance(fault, 20ms);
    fault.configure(ResetPeerConfig{500ms});
    fault.on_update(context);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(0us, "x"), reset_at(500ms, Target::both, false)});
}

}  // namespace faultline::faults
