// Tests for faults/half_close.hpp: drop_fin, early_fin, fin_to_rst and collapse, the required
// mode, and a mode changed on a live connection.
#include "faults/half_close.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;
using Events = std::vector<Event>;

const auto errors_of = config_errors<HalfCloseConfig>;

TEST_CASE("requires a mode and names it when it is missing or wrong") {
    CHECK(errors_of(nlohmann::json()) ==
          "mode: required: one of drop_fin, early_fin, fin_to_rst, collapse");
    CHECK(errors_of({{"mode", "drop"}}) ==
          "mode: unknown value 'drop'; known: drop_fin, early_fin, fin_to_rst, collapse");
    CHECK(errors_of({{"mode", "collapse"}}).empty());
}

TEST_CASE("drop_fin passes bytes and never the end of the stream while the rule is active") {
    FakeContext context;
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::drop_fin});
    fault.on_start(context);
    fault.on_data(context, "abc");
    fault.on_end(context);
    context.advance(fault, 1h);
    CHECK(context.events() == Events{data_at(0us, "abc")});
    fault.on_stop(context);
    CHECK(context.events() == Events{data_at(0us, "abc"), end_at(1h)});
}

TEST_CASE("drop_fin going away without an end passes nothing") {
    FakeContext context;
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::drop_fin});
    fault.on_start(context);
    fault.on_stop(context);
    CHECK(context.events().empty());
}

TEST_CASE("early_fin ends the stream at the start, then drops its bytes and ignores its end") {
    FakeContext context(Stream::upstream, 5s);
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::early_fin});
    fault.on_start(context);
    fault.on_data(context, "dropped");
    fault.on_end(context);
    fault.on_stop(context);
    CHECK(context.events() == Events{end_at(5s)});
}

TEST_CASE("fin_to_rst turns the end into a flushed reset of the stream's destination") {
    FakeContext upstream(Stream::upstream);
    HalfCloseFault to_server(HalfCloseConfig{HalfCloseMode::fin_to_rst});
    to_server.on_start(upstream);
    to_server.on_data(upstream, "abc");
    to_server.on_end(upstream);
    CHECK(upstream.events() == Events{data_at(0us, "abc"), reset_at(0us, Target::server, true)});

    FakeContext downstream(Stream::downstream);
    HalfCloseFault to_client(HalfCloseConfig{HalfCloseMode::fin_to_rst});
    to_client.on_start(downstream);
    to_client.on_end(downstream);
    CHECK(downstream.events() == Events{reset_at(0us, Target::client, true)});
}

TEST_CASE("collapse passes the end, then makes data from the other side draw a reset") {
    FakeContext context;
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::collapse});
    fault.on_start(context);
    fault.on_data(context, "abc");
    CHECK(context.events() == Events{data_at(0us, "abc")});
    context.advance(fault, 1ms);
    fault.on_end(context);
    CHECK(context.events() ==
          Events{data_at(0us, "abc"), end_at(1ms), reset_on_reverse_data_at(1ms)});
}

TEST_CASE("a new mode takes over an end that drop_fin held") {
    FakeContext context;
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::drop_fin});
    fault.on_start(context);
    fault.on_end(context);
    context.advance(fault, 1s);
    fault.configure(HalfCloseConfig{HalfCloseMode::collapse});
    fault.on_update(context);
    fault.on_stop(context);
    CHECK(context.events() == Events{end_at(1s), reset_on_reverse_data_at(1s)});
}

TEST_CASE("switching to early_fin on a live connection ends the stream at once") {
    FakeContext context;
    HalfCloseFault fault(HalfCloseConfig{HalfCloseMode::drop_fin});
    fault.on_start(context);
    fault.on_data(context, "a");
    fault.configure(HalfCloseConfig{HalfCloseMode::early_fin});
    fault.on_update(context);
    fault.on_data(context, "b");
    CHECK(context.events() == Events{data_at(0us, "a"), end_at(0us)});
}

}  // namespace faultline::faults
