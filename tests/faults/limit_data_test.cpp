// Tests for faults/limit_data.hpp: at most `bytes` pass, then the connection is closed.
#include "faults/limit_data.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("counts how many arriving bytes fit under the limit") {
    CHECK(bytes_within_limit(10, 0, 4) == 4u);
    CHECK(bytes_within_limit(10, 8, 4) == 2u);
    CHECK(bytes_within_limit(10, 10, 4) == 0u);
    CHECK(bytes_within_limit(10, 12, 4) == 0u);
}

TEST_CASE("passes bytes up to the limit, cuts the chunk that reaches it, then closes") {
    FakeContext context;
    LimitDataFault fault(LimitDataConfig{5});
    fault.on_start(context);
    fault.on_data(context, "abc");
    context.advance(fault, 1ms);
    fault.on_data(context, "defg");
    fault.on_data(context, "late");
    fault.on_end(context);
    CHECK(context.events() == Events{data_at(0us, "abc"), data_at(1ms, "de"), close_at(1ms)});
}

TEST_CASE("a chunk that reaches the limit exactly passes whole, then the connection closes") {
    FakeContext context;
    LimitDataFault fault(LimitDataConfig{3});
    fault.on_start(context);
    fault.on_data(context, "abc");
    CHECK(context.events() == Events{data_at(0us, "abc"), close_at(0us)});
}

TEST_CASE("a limit of 0 closes at the first byte, passing none, and not before") {
    FakeContext context;
    LimitDataFault fault(LimitDataConfig{});
    fault.on_start(context);
    context.advance(fault, 1s);
    CHECK(context.events().empty());
    fault.on_data(context, "x");
    CHECK(context.events() == Events{close_at(1s)});
}

TEST_CASE("the end of the stream passes while under the limit") {
    FakeContext context;
    LimitDataFault fault(LimitDataConfig{100});
    fault.on_start(context);
    fault.on_data(context, "abc");
    fault.on_end(context);
    CHECK(context.events() == Events{data_at(0us, "abc"), end_at(0us)});
}

TEST_CASE("a limit lowered below what passed closes at the next byte") {
    FakeContext context;
    LimitDataFault fault(LimitDataConfig{100});
    fault.on_start(context);
    fault.on_data(context, "abcdef");
    fault.configure(LimitDataConfig{4});
    fault.on_update(context);
    CHECK(context.events() == Events{data_at(0us, "abcdef")});
    fault.on_data(context, "g");
    CHECK(context.events() == Events{data_at(0us, "abcdef"), close_at(0us)});
}

}  // namespace faultline::faults
