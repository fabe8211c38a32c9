// Tests for faults/registry.hpp: the list of types, defaults, the messages for unknown types,
// unknown attributes and wrong types, and attributes that round-trip through parse_fault.
#include "faults/registry.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/faults/describe_errors.hpp"
#include "tests/faults/fake_context.hpp"

namespace faultline::faults {

namespace {

const std::vector<std::string_view> all_types{
    "latency", "bandwidth", "slow_close", "timeout",    "reset_peer", "slicer",      "limit_data",
    "noop",    "interrupt", "reset",      "half_close", "refuse",     "idle_timeout"};

std::string errors_of(std::string_view type, const nlohmann::json& attributes) {
    const auto parsed = parse_fault(type, attributes);
    CHECK(!parsed.spec == !parsed.errors.empty());
    return describe(parsed.errors);
}

}  // namespace

TEST_CASE("knows every fault type, Toxiproxy's first, in the order of the list") {
    CHECK(known_types() == all_types);
    for (const auto type : all_types)
        CHECK(is_known_type(type));
    CHECK_FALSE(is_known_type("latncy"));
    CHECK_FALSE(is_known_type(""));
}

TEST_CASE("describes each type with its attributes, and its defaults when all have one") {
    const auto types = fault_types();
    REQUIRE(types.size() == all_types.size());
    CHECK(types[0].type == "latency");
    CHECK(types[0].attributes == std::vector<std::string>{"latency", "jitter"});
    CHECK(types[0].defaults == nlohmann::ordered_json{{"latency", 0}, {"jitter", 0}});
    const auto& half_close = types[10];
    CHECK(half_close.type == "half_close");
    CHECK_FALSE(half_close.attributes.empty());
    CHECK(half_close.attributes.front() == "mode");
    CHECK(half_close.defaults.is_null());
    for (const auto& info : types)
        CHECK_MESSAGE((!info.attributes.empty() || info.type == "noop"), info.type);
}

TEST_CASE("every type parses with no attributes, except those with a required attribute") {
    const std::map<std::string_view, std::string> required{
        {"slicer", "average_size: must be greater than 0, got 0"},
        {"half_close", "mode: required: one of drop_fin, early_fin, fin_to_rst, collapse"},
        {"idle_timeout", "timeout: must be greater than 0, got 0"},
    };
    for (const auto type : all_types) {
        CAPTURE(type);
        const auto expected = required.contains(type) ? required.at(type) : "";
        CHECK(errors_of(type, nlohmann::json()) == expected);
        CHECK(errors_of(type, nlohmann::json::object()) == expected);
    }
}

TEST_CASE("lists every attribute with its default") {
    const std::map<std::string_view, std::string> defaults{
        {"latency", R"({"latency":0,"jitter":0})"},
        {"bandwidth", R"({"rate":0})"},
        {"slow_close", R"({"delay":0})"},
        {"timeout", R"({"timeout":0})"},
        {"reset_peer", R"({"timeout":0})"},
        {"limit_data", R"({"bytes":0})"},
        {"noop", R"({})"},
        {"interrupt", R"({"mode":"stall","duration":0})"},
        {"reset", R"({"target":"both","flush":false})"},
        {"refuse", R"({"mode":"reject"})"},
    };
    for (const auto& [type, expected] : defaults) {
        CAPTURE(type);
        const auto parsed = parse_fault(type, nlohmann::json());
        REQUIRE(parsed.spec);
        CHECK(parsed.spec->type() == type);
        CHECK(parsed.spec->attributes().dump() == expected);
    }
}

TEST_CASE("an unknown type is an error that lists every known type") {
    CHECK(errors_of("latncy", nlohmann::json()) ==
          ": unknown fault type 'latncy'; known: latency, bandwidth, slow_close, timeout, "
          "reset_peer, slicer, limit_data, noop, interrupt, reset, half_close, refuse, "
          "idle_timeout");
}

TEST_CASE("unknown attributes and wrong types give messages naming the attribute") {
    CHECK(errors_of("latency", {{"latncy", 100}}) ==
          "latncy: unknown attribute; known: latency, jitter");
    CHECK(errors_of("noop", {{"x", 1}}) == "x: unknown attribute; this type has none");
    CHECK(errors_of("latency", {{"latency", "100"}}) ==
          "latency: expected an integer, got a string");
    CHECK(errors_of("latency", {{"jitter", 2.5}}) ==
          "jitter: expected an integer, got a number with a fraction");
    CHECK(errors_of("bandwidth", {{"rate", -1}}) ==
          "rate: must be between 0 and 1000000000, got -1");
    CHECK(errors_of("timeout", {{"timeout", 1'000'000'000'001}}) ==
          "timeout: must be between 0 and 1000000000000, got 1000000000001");
    CHECK(errors_of("reset", {{"flush", 1}}) == "flush: expected a boolean, got an integer");
    CHECK(errors_of("interrupt", {{"mode", true}}) ==
          "mode: expected one of stall, discard, got a boolean");
    CHECK(errors_of("refuse", {{"mode", "refuse"}}) ==
          "mode: unknown value 'refuse'; known: reject, drop, reset");
    CHECK(errors_of("slicer", {{"average_size", 0}, {"delay", "1ms"}}) ==
          "average_size: must be greater than 0, got 0; delay: expected an integer, got a string");
    CHECK(errors_of("latency", "100") == ": attributes must be an object, got a string");
}

TEST_CASE("attributes round-trip through parse_fault") {
    const std::map<std::string_view, nlohmann::json> given{
        {"latency", {{"latency", 100}, {"jitter", 10}}},
        {"bandwidth", {{"rate", 500}}},
        {"slow_close", {{"delay", 250}}},
        {"timeout", {{"timeout", 3000}}},
        {"reset_peer", {{"timeout", 20}}},
        {"slicer", {{"average_size", 64}, {"size_variation", 32}, {"delay", 10}}},
        {"limit_data", {{"bytes", 4096}}},
        {"noop", nlohmann::json::object()},
        {"interrupt", {{"mode", "discard"}, {"duration", 5000}}},
        {"reset", {{"target", "server"}, {"flush", true}}},
        {"half_close", {{"mode", "fin_to_rst"}}},
        {"refuse", {{"mode", "drop"}}},
        {"idle_timeout", {{"timeout", 60000}, {"action", "forget"}}},
    };
    CHECK(given.size() == all_types.size());
    for (const auto& [type, attributes] : given) {
        CAPTURE(type);
        const auto first = parse_fault(type, attributes);
        REQUIRE(first.spec);
        const auto listed = nlohmann::json::parse(first.spec->attributes().dump());
        CHECK(listed == attributes);
        const auto second = parse_fault(type, listed);
        REQUIRE(second.spec);
        CHECK(second.spec->attributes() == first.spec->attributes());
    }
}

TEST_CASE("a spec keeps its type name after the caller's string is gone") {
    std::string type = "latency";
    const auto parsed = parse_fault(type, nlohmann::json());
    type.assign("overwritten and longer than before");
    REQUIRE(parsed.spec);
    CHECK(parsed.spec->type() == "latency");
}

TEST_CASE("every type makes a running fault that takes updates, except listener-only refusals") {
    for (const auto type : all_types) {
        CAPTURE(type);
        nlohmann::json attributes = nlohmann::json::object();
        if (type == "slicer") attributes = {{"average_size", 4}};
        if (type == "half_close") attributes = {{"mode", "drop_fin"}};
        if (type == "idle_timeout") attributes = {{"timeout", 100}};
        const auto parsed = parse_fault(type, attributes);
        REQUIRE(parsed.spec);
        auto fault = parsed.spec->create();
        if (type == "refuse") {
            CHECK(fault == nullptr);
            CHECK(parsed.spec->listener_action() == ListenerAction::reject);
            continue;
        }
        REQUIRE(fault);
        FakeContext context;
        fault->on_start(context);
        parsed.spec->update(*fault);
        fault->on_update(context);
        fault->on_stop(context);
        CHECK(parsed.spec->end_reason() ==
              (type == "idle_timeout" ? EndReason::idle_timeout : EndReason::deny));
    }
}

}  // namespace faultline::faults
