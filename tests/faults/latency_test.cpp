// Tests for faults/latency.hpp: due times from latency and jitter, order, the end of the stream,
// release when the rule goes away, and live updates.
#include "faults/latency.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

TEST_CASE("draws the jitter offset uniformly over [-jitter, +jitter], both ends included") {
    CHECK(jitter_offset(10us, 0.0) == -10us);
    CHECK(jitter_offset(10us, 0.5) == 0us);
    CHECK(jitter_offset(10us, 0.9999999) == 10us);
    CHECK(jitter_offset(0us, 0.7) == 0us);
    std::map<Micros::rep, int> counts;
    for (int i = 0; i < 2100; ++i)
        ++counts[jitter_offset(10us, i / 2100.0).count()];
    CHECK(counts.size() == 21u);
    for (const auto& [offset, count] : counts) {
        CAPTURE(offset);
        CHECK(count == 100);
    }
}

TEST_CASE("a due time is never before the arrival nor before the chunk ahead of it") {
    CHECK(latency_due(1000us, 100us, 50us, 0us) == 1150us);
    CHECK(latency_due(1000us, 100us, -200us, 0us) == 1000us);
    CHECK(latency_due(1000us, 100us, 50us, 2000us) == 2000us);
}

TEST_CASE("delays each chunk by the latency, counted from its own arrival, without adding up") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{100ms, 0ms});
    fault.on_start(context);
    for (int i = 0; i < 5; ++i) {
        fault.on_data(context, std::string(1, static_cast<char>('a' + i)));
        context.advance(fault, 10ms);
    }
    CHECK(fault.held_bytes() == 5u);
    CHECK(context.events().empty());
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(100ms, "a"), data_at(110ms, "b"), data_at(120ms, "c"),
                                     data_at(130ms, "d"), data_at(140ms, "e")});
    CHECK(fault.held_bytes() == 0u);
    CHECK_FALSE(context.timer());
    CHECK(context.draws_taken() == 0);
}

TEST_CASE("delays each chunk by latency plus at most jitter and never reorders chunks") {
    FakeContext context;
    context.queue_draws({0.9999999, 0.0});
    LatencyFault fault(LatencyConfig{100ms, 50ms});
    fault.on_start(context);
    fault.on_data(context, "first");  // due 0 + 100 + 50 ms
    context.advance(fault, 10ms);
    fault.on_data(context, "second");  // own due 10 + 100 - 50 ms, but not before the first
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(150ms, "first"), data_at(150ms, "second")});
}

TEST_CASE("jitter larger than the latency never releases a chunk before it arrived") {
    FakeContext context;
    context.queue_draws({0.0});
    LatencyFault fault(LatencyConfig{10ms, 50ms});
    fault.on_start(context);
    context.advance(fault, 7ms);
    fault.on_data(context, "now");
    CHECK(context.events() == Events{data_at(7ms, "now")});
    CHECK(fault.held_bytes() == 0u);
}

TEST_CASE("passes bytes at once when there is no latency") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{});
    fault.on_start(context);
    fault.on_data(context, "abc");
    fault.on_end(context);
    CHECK(context.events() == Events{data_at(0us, "abc"), end_at(0us)});
    CHECK_FALSE(context.timer());
}

TEST_CASE("passes the end of the stream right after the last byte before it") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{100ms, 0ms});
    fault.on_start(context);
    fault.on_data(context, "abc");
    context.advance(fault, 20ms);
    fault.on_end(context);
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(100ms, "abc"), end_at(100ms)});
}

TEST_CASE("passes the end of the stream at once when no byte is held") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{100ms, 0ms});
    fault.on_start(context);
    context.advance(fault, 5ms);
    fault.on_end(context);
    CHECK(context.events() == Events{end_at(5ms)});
}

TEST_CASE("releases everything held at once, in order, then a held end, when the rule goes away") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{100ms, 0ms});
    fault.on_start(context);
    fault.on_data(context, "a");
    context.advance(fault, 10ms);
    fault.on_data(context, "b");
    fault.on_end(context);
    context.advance(fault, 40ms);
    fault.on_stop(context);
    CHECK(context.events() == Events{data_at(50ms, "a"), data_at(50ms, "b"), end_at(50ms)});
    CHECK(fault.held_bytes() == 0u);
    CHECK_FALSE(context.timer());
}

TEST_CASE("applies a new latency to chunks arriving afterwards, still in order") {
    FakeContext context;
    LatencyFault fault(LatencyConfig{100ms, 0ms});
    fault.on_start(context);
    fault.on_data(context, "a");
    context.advance(fault, 5ms);
    fault.configure(LatencyConfig{10ms, 0ms});
    fault.on_update(context);
    fault.on_data(context, "b");  // own due 15 ms, but behind "a"
    context.advance(fault, 195ms);
    fault.on_data(context, "c");
    context.advance(fault, 1s);
    CHECK(context.events() ==
          Events{data_at(100ms, "a"), data_at(100ms, "b"), data_at(210ms, "c")});
}

}  // namespace faultline::faults
