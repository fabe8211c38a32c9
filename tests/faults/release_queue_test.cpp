// Tests for faults/release_queue.hpp: bytes held until their due times, then the end.
#include "faults/release_queue.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

namespace {

// A fault whose timer releases the queue, as latency's does.
class QueueFault final : public Fault {
  public:
    void on_timer(Context& context) override { queue.release_due(context); }
    ReleaseQueue queue;
};

}  // namespace

TEST_CASE("forwards a due chunk at once when nothing is held before it") {
    FakeContext context;
    QueueFault fault;
    fault.queue.hold(context, 0us, "now");
    CHECK(context.events() == Events{data_at(0us, "now")});
    CHECK(fault.queue.held_bytes() == 0u);
    CHECK(fault.queue.last_due() == 0us);
}

TEST_CASE("holds chunks until their due times and sets the timer for the first") {
    FakeContext context;
    QueueFault fault;
    fault.queue.hold(context, 10ms, "ab");
    fault.queue.hold(context, 20ms, "cde");
    CHECK(fault.queue.held_bytes() == 5u);
    CHECK(context.timer() == 10ms);
    context.advance(fault, 15ms);
    CHECK(context.events() == Events{data_at(10ms, "ab")});
    CHECK(context.timer() == 20ms);
    CHECK(fault.queue.held_bytes() == 3u);
}

TEST_CASE("a due chunk behind a held one waits for it") {
    FakeContext context;
    QueueFault fault;
    fault.queue.hold(context, 10ms, "a");
    context.advance_to(fault, 5ms);
    fault.queue.hold(context, 10ms, "b");
    context.advance(fault, 1s);
    CHECK(context.events() == Events{data_at(10ms, "a"), data_at(10ms, "b")});
}

TEST_CASE("passes the end right after the last held chunk, or at once when none is held") {
    FakeContext context;
    QueueFault fault;
    fault.queue.end(context);
    CHECK(context.events() == Events{end_at(0us)});

    FakeContext later;
    QueueFault held;
    held.queue.hold(later, 10ms, "a");
    held.queue.end(later);
    later.advance(held, 1s);
    CHECK(later.events() == Events{data_at(10ms, "a"), end_at(10ms)});
}

TEST_CASE("releases everything at once, then the end, and cancels the timer") {
    FakeContext context;
    QueueFault fault;
    fault.queue.hold(context, 10ms, "a");
    fault.queue.hold(context, 20ms, "b");
    fault.queue.end(context);
    fault.queue.release_all(context);
    CHECK(context.events() == Events{data_at(0us, "a"), data_at(0us, "b"), end_at(0us)});
    CHECK_FALSE(context.timer());
    CHECK(fault.queue.held_bytes() == 0u);
}

}  // namespace faultline::faults
