// Tests for faults/noop.hpp: a fault that changes nothing.
#include "faults/noop.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("passes every byte and the end of the stream at once, and asks for nothing else") {
    FakeContext context;
    NoopFault fault(NoopConfig{});
    fault.on_start(context);
    fault.on_data(context, "abc");
    context.advance(fault, 1ms);
    fault.on_data(context, "de");
    fault.on_end(context);
    fault.on_stop(context);
    CHECK(context.events() == Events{data_at(0us, "abc"), data_at(1ms, "de"), end_at(1ms)});
    CHECK_FALSE(context.timer());
    CHECK(fault.held_bytes() == 0u);
}

}  // namespace faultline::faults
