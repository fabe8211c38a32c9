// Tests for faults/half_close.hpp: drop_fin, early_fin, fin_to_rst and collapse, the required
// mode, and a mode changed on a live connection.
#include "faults/half_close.hpp"

#include <doctest/doctest.h>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

const auto errors_of = config_errors<HalfCloseConfig>;

TEST_CASE("requires a mode and names it when it is missing or wrong") {
    CHECK(errors_of(nlohmann::json()) ==
          "mode: required: one of drop_fin, early_fin, fin_to_rst, collapse");
    CHECK(errors_of({{"mode", "drop"}}) ==
          "mode: unknown value 'drop'; known: drop_fin, early_fin, fin_to_rst, collapse");
    CHECK(errors_of({{"mode", "collapse"}}).empty());
}

TEST_CASE("drop_fin passes bytes and never the end of the stream while the rule is active") {
    Started<HalfCloseFault> drop_fin(HalfCloseConfig{HalfCloseMode::drop_fin});
    drop_fin.data("abc").end().wait(1h);
    CHECK(drop_fin.events() == Events{data_at(0us, "abc")});
    drop_fin.stop();
    CHECK(drop_fin.events() == Events{data_at(0us, "abc"), end_at(1h)});
}

TEST_CASE("drop_fin going away without an end passes nothing") {
    Started<HalfCloseFault> drop_fin(HalfCloseConfig{HalfCloseMode::drop_fin});
    drop_fin.stop();
    CHECK(drop_fin.events().empty());
}

TEST_CASE("early_fin ends the stream at the start, then drops its bytes and ignores its end") {
    Started<HalfCloseFault> early_fin(HalfCloseConfig{HalfCloseMode::early_fin}, Stream::upstream,
                                      5s);
    early_fin.data("dropped").end().stop();
    CHECK(early_fin.events() == Events{end_at(5s)});
}

TEST_CASE("fin_to_rst turns the end into a flushed reset of the stream's destination") {
    Started<HalfCloseFault> to_server(HalfCloseConfig{HalfCloseMode::fin_to_rst}, Stream::upstream);
    to_server.data("abc").end();
    CHECK(to_server.events() == Events{data_at(0us, "abc"), reset_at(0us, Target::server, true)});

    Started<HalfCloseFault> to_client(HalfCloseConfig{HalfCloseMode::fin_to_rst},
                                      Stream::downstream);
    to_client.end();
    CHECK(to_client.events() == Events{reset_at(0us, Target::client, true)});
}

TEST_CASE("collapse passes the end, then makes data from the other side draw a reset") {
    Started<HalfCloseFault> collapse(HalfCloseConfig{HalfCloseMode::collapse});
    collapse.data("abc");
    CHECK(collapse.events() == Events{data_at(0us, "abc")});
    collapse.wait(1ms).end();
    CHECK(collapse.events() ==
          Events{data_at(0us, "abc"), end_at(1ms), reset_on_reverse_data_at(1ms)});
}

TEST_CASE("a new mode takes over an end that drop_fin held") {
    Started<HalfCloseFault> drop_fin(HalfCloseConfig{HalfCloseMode::drop_fin});
    drop_fin.end().wait(1s).update(HalfCloseConfig{HalfCloseMode::collapse}).stop();
    CHECK(drop_fin.events() == Events{end_at(1s), reset_on_reverse_data_at(1s)});
}

TEST_CASE("switching to early_fin on a live connection ends the stream at once") {
    Started<HalfCloseFault> drop_fin(HalfCloseConfig{HalfCloseMode::drop_fin});
    drop_fin.data("a").update(HalfCloseConfig{HalfCloseMode::early_fin}).data("b");
    CHECK(drop_fin.events() == Events{data_at(0us, "a"), end_at(0us)});
}

}  // namespace faultline::faults
