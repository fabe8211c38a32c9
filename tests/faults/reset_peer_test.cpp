// Tests for faults/reset_peer.hpp: both ends are reset `timeout` after the first byte.
#include "faults/reset_peer.hpp"

#include <doctest/doctest.h>

#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

TEST_CASE("resets both ends timeout ms after the first byte, passing the bytes before") {
    Started<ResetPeerFault> peer(ResetPeerConfig{100ms});
    peer.wait(10ms).data("a").wait(40ms).data("b").wait(1s).data("after");
    CHECK(peer.events() ==
          Events{data_at(10ms, "a"), data_at(50ms, "b"), reset_at(110ms, Target::both, false)});
}

TEST_CASE("a timeout of 0 resets at the first byte, after passing it") {
    Started<ResetPeerFault> peer(ResetPeerConfig{});
    peer.wait(10ms).data("first");
    CHECK(peer.events() == Events{data_at(10ms, "first"), reset_at(10ms, Target::both, false)});
    CHECK_FALSE(peer.timer());
}

TEST_CASE("never resets without a byte, and passes the end of the stream") {
    Started<ResetPeerFault> peer(ResetPeerConfig{100ms});
    peer.end().wait(1h);
    CHECK(peer.events() == Events{end_at(0us)});
    CHECK_FALSE(peer.timer());
}

TEST_CASE("on a connection older than the rule, counts from the first byte after the start") {
    Started<ResetPeerFault> peer(ResetPeerConfig{100ms}, Stream::upstream, 1h);
    peer.wait(5s).data("x").wait(1s);
    CHECK(peer.events() ==
          Events{data_at(1h + 5s, "x"), reset_at(1h + 5s + 100ms, Target::both, false)});
}

TEST_CASE("going away cancels the pending reset") {
    Started<ResetPeerFault> peer(ResetPeerConfig{100ms});
    peer.data("x").stop();
    CHECK_FALSE(peer.timer());
    CHECK(peer.events() == Events{data_at(0us, "x")});
}

TEST_CASE("a new timeout moves the pending reset") {
    Started<ResetPeerFault> peer(ResetPeerConfig{100ms});
    peer.data("x").wait(20ms).update(ResetPeerConfig{500ms}).wait(1s);
    CHECK(peer.events() == Events{data_at(0us, "x"), reset_at(500ms, Target::both, false)});
}

}  // namespace faultline::faults
