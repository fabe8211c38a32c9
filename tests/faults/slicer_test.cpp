// Tests for faults/slicer.hpp: validation, piece sizes, delays between pieces, order across
// chunks, the end of the stream, and release when the rule goes away.
#include "faults/slicer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

using namespace std::chrono_literals;

const auto errors_of = config_errors<SlicerConfig>;

TEST_CASE("rejects an average_size of 0, given or by default, instead of crashing later") {
    CHECK(errors_of(nlohmann::json::object()) == "average_size: must be greater than 0, got 0");
    CHECK(errors_of({{"average_size", 0}}) == "average_size: must be greater than 0, got 0");
    CHECK(errors_of({{"average_size", -3}}) == "average_size: must be greater than 0, got -3");
}

TEST_CASE("rejects a size_variation larger than average_size, naming size_variation") {
    CHECK(errors_of({{"average_size", 10}, {"size_variation", 11}}) ==
          "size_variation: must not be greater than average_size (10), got 11");
    CHECK(errors_of({{"average_size", 10}, {"size_variation", 10}, {"delay", 5}}).empty());
    CHECK(errors_of({{"average_size", 0}, {"size_variation", 11}}) ==
          "average_size: must be greater than 0, got 0");
}

TEST_CASE("reads the attributes and lists them all") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes{{"average_size", 8}, {"delay", 250}};
    AttributeReader reader(attributes, errors);
    const auto config = SlicerConfig::read(reader);
    CHECK(errors.empty());
    CHECK(config.average_size == 8u);
    CHECK(config.size_variation == 0u);
    CHECK(config.delay == 250us);
    CHECK(config.to_json().dump() == R"({"average_size":8,"size_variation":0,"delay":250})");
}

TEST_CASE("a piece is the average plus a variation within size_variation, never 0 bytes") {
    CHECK(slice_size(10, 0, 0.7) == 10u);
    CHECK(slice_size(10, 3, 0.0) == 7u);
    CHECK(slice_size(10, 3, 0.5) == 10u);
    CHECK(slice_size(10, 3, 0.9999999) == 13u);
    CHECK(slice_size(1, 1, 0.0) == 1u);
    CHECK(slice_size(4, 4, 0.0) == 1u);
}

TEST_CASE("cuts a chunk into pieces of average_size, delay microseconds apart") {
    Started<SlicerFault> slicer(SlicerConfig{3, 0, 100us});
    slicer.data("abcdefgh");
    CHECK(slicer.events() == Events{data_at(0us, "abc")});
    CHECK(slicer.held_bytes() == 5u);
    slicer.run();
    CHECK(slicer.events() ==
          Events{data_at(0us, "abc"), data_at(100us, "def"), data_at(200us, "gh")});
    CHECK(slicer.held_bytes() == 0u);
    CHECK(slicer.context.draws_taken() == 0);
}

TEST_CASE("varies the piece sizes with the random source") {
    Started<SlicerFault> slicer(SlicerConfig{4, 2, 0us});
    slicer.context.queue_draws({0.0, 0.9999999, 0.5});
    slicer.data("abcdefghij");
    CHECK(slicer.events() ==
          Events{data_at(0us, "ab"), data_at(0us, "cdefgh"), data_at(0us, "ij")});
}

TEST_CASE("keeps the order across chunks: a chunk waits behind the pieces before it") {
    Started<SlicerFault> slicer(SlicerConfig{2, 0, 1ms});
    slicer.data("abcd").wait(500us).data("ef").wait(10ms);
    slicer.data("gh");  // after a pause: at once
    CHECK(slicer.events() == Events{data_at(0us, "ab"), data_at(1ms, "cd"), data_at(2ms, "ef"),
                                    data_at(10500us, "gh")});
}

TEST_CASE("a late timer catches up: pieces keep their due times, not the timer's") {
    Started<SlicerFault> slicer(SlicerConfig{1, 0, 100us});
    slicer.context.set_timer_resolution(1ms);
    slicer.data("abcd").run();
    CHECK(slicer.events() ==
          Events{data_at(0us, "a"), data_at(1ms, "b"), data_at(1ms, "c"), data_at(1ms, "d")});
}

TEST_CASE("passes the end of the stream right after the last piece") {
    Started<SlicerFault> slicer(SlicerConfig{2, 0, 1ms});
    slicer.data("abcd").end().run();
    CHECK(slicer.events() == Events{data_at(0us, "ab"), data_at(1ms, "cd"), end_at(1ms)});
}

TEST_CASE("releases what it holds at once, then the end, when the rule goes away") {
    Started<SlicerFault> slicer(SlicerConfig{2, 0, 1ms});
    slicer.data("abcde").data("fg").end().stop();
    CHECK(slicer.events() ==
          Events{data_at(0us, "ab"), data_at(0us, "cde"), data_at(0us, "fg"), end_at(0us)});
    CHECK(slicer.held_bytes() == 0u);
    CHECK_FALSE(slicer.timer());
}

TEST_CASE("applies a new configuration to the pieces cut afterwards") {
    Started<SlicerFault> slicer(SlicerConfig{2, 0, 1ms});
    slicer.data("abcdefgh").update(SlicerConfig{3, 0, 5ms}).run();
    CHECK(slicer.events() == Events{data_at(0us, "ab"), data_at(5ms, "cde"), data_at(10ms, "fgh")});
}

}  // namespace faultline::faults
