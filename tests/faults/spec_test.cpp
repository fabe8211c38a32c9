// Tests for faults/spec.hpp: reading attributes (integers, positive integers, booleans, choices,
// required choices, reported problems, unknown attributes) and what a BasicSpec says.
#include "faults/spec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "faults/noop.hpp"
#include "tests/faults/describe_errors.hpp"

namespace faultline::faults {

TEST_CASE("reads integers, with the default when absent and the range in the message") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes{{"a", 5}, {"b", 100.0}, {"c", -1}, {"d", 1.5}};
    AttributeReader reader(attributes, errors);
    CHECK(reader.integer("a", 0, 0, 10) == 5);
    CHECK(reader.integer("b", 0, 0, 1000) == 100);
    CHECK(reader.integer("c", 7, 0, 10) == 7);
    CHECK(reader.integer("d", 7, 0, 10) == 7);
    CHECK(reader.integer("absent", 3, 0, 10) == 3);
    CHECK(describe(errors) ==
          "c: must be between 0 and 10, got -1; d: expected an integer, got a number with a "
          "fraction");
}

TEST_CASE("a positive integer rejects 0, negative numbers and absence, which counts as 0") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes{
        {"ok", 3}, {"zero", 0}, {"negative", -2}, {"big", 11}, {"text", "1"}};
    AttributeReader reader(attributes, errors);
    CHECK(reader.positive_integer("ok", 10) == 3);
    CHECK(reader.positive_integer("zero", 10) == 0);
    CHECK(reader.positive_integer("negative", 10) == 0);
    CHECK(reader.positive_integer("big", 10) == 0);
    CHECK(reader.positive_integer("text", 10) == 0);
    CHECK(reader.positive_integer("absent", 10) == 0);
    CHECK(describe(errors) ==
          "zero: must be greater than 0, got 0; negative: must be greater than 0, got -2; "
          "big: must be between 1 and 10, got 11; text: expected an integer, got a string; "
          "absent: must be greater than 0, got 0");
}

TEST_CASE("a required choice reports its absence with the valid values") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes{{"given", "b"}, {"wrong", "z"}, {"number", 1}};
    AttributeReader reader(attributes, errors);
    CHECK(reader.required_choice("given", {"a", "b"}) == "b");
    CHECK(reader.required_choice("wrong", {"a", "b"}).empty());
    CHECK(reader.required_choice("number", {"a", "b"}).empty());
    CHECK(reader.required_choice("absent", {"a", "b"}).empty());
    CHECK(describe(errors) ==
          "wrong: unknown value 'z'; known: a, b; number: expected one of a, b, got an integer; "
          "absent: required: one of a, b");
}

TEST_CASE("a choice with a default takes it when absent") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes;
    AttributeReader reader(attributes, errors);
    CHECK(reader.choice("mode", "a", {"a", "b"}) == "a");
    CHECK(errors.empty());
}

TEST_CASE("reports problems that span attributes, and attributes nobody asked for") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes{{"low", 5}, {"high", 1}, {"typo", true}};
    AttributeReader reader(attributes, errors);
    (void)reader.integer("low", 0, 0, 10);
    (void)reader.integer("high", 0, 0, 10);
    reader.report("high", "must not be lower than low (5), got 1");
    reader.reject_unknown();
    CHECK(describe(errors) ==
          "high: must not be lower than low (5), got 1; typo: unknown attribute; known: low, high");
}

TEST_CASE("attributes that are not an object are one error") {
    std::vector<AttributeError> errors;
    const nlohmann::json attributes = nlohmann::json::array({1});
    AttributeReader reader(attributes, errors);
    CHECK(reader.integer("a", 4, 0, 10) == 4);
    reader.reject_unknown();
    CHECK(describe(errors) == ": attributes must be an object, got an array");
}

TEST_CASE("a basic spec ends connections as denied unless its config says otherwise") {
    const auto parsed = read_basic_spec<NoopConfig, NoopFault>("noop", nlohmann::json());
    REQUIRE(parsed.spec);
    CHECK(parsed.spec->end_reason() == EndReason::deny);
    CHECK(parsed.spec->listener_action() == ListenerAction::none);
}

}  // namespace faultline::faults
