// Durations and byte sizes as configuration writes them.
#include "rules/units.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <span>
#include <system_error>

namespace faultline::rules {
namespace {

struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
};
constexpr std::array<Unit, 4> duration_units{
    {{"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};  // in milliseconds
constexpr std::array<Unit, 5> size_units{
    {{"B", 1}, {"KB", 1000}, {"MB", 1'000'000}, {"KiB", 1024}, {"MiB", 1'048'576}}};

// One "<digits><unit>" term taken from the front of `text`: its value in the smallest unit and the
// factor of its unit. nullopt when malformed or too large for 64 bits.
struct Term {
    std::uint64_t value;
    std::uint64_t factor;
};
std::optional<Term> take_term(std::string_view& text, std::span<const Unit> units) {
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc{} || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    const Unit* unit = nullptr;  // the longest suffix that matches: "ms" rather than "m"
    for (const auto& candidate : units) {
        if (text.starts_with(candidate.suffix) &&
            (unit == nullptr || candidate.suffix.size() > unit->suffix.size())) {
            unit = &candidate;
        }
    }
    if (unit == nullptr || number > std::numeric_limits<std::uint64_t>::max() / unit->factor) {
        return std::nullopt;
    }
    text.remove_prefix(unit->suffix.size());
    return Term{number * unit->factor, unit->factor};
}

// The largest unit that divides the duration exactly: 5400000 ms is "90m", 1500 ms "1500ms".
std::string format_milliseconds(std::uint64_t ms) {
    if (ms == 0) return "0s";
    for (const auto& unit : duration_units) {
        if (ms % unit.factor == 0) {
            return std::to_string(ms / unit.factor) + std::string(unit.suffix);
        }
    }
    return std::to_string(ms) + "ms";  // not reached: every count of milliseconds divides by 1
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    const auto term = take_term(text, size_units);
    if (!term || !text.empty()) return std::nullopt;
    return term->value;
}

std::optional<Duration> parse_duration(std::string_view text) {
    if (text == "0") return Duration::zero();
    if (text.empty()) return std::nullopt;
    constexpr auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
    std::uint64_t total_ms = 0;
    std::uint64_t previous_factor = std::numeric_limits<std::uint64_t>::max();
    while (!text.empty()) {
        const auto term = take_term(text, duration_units);
        // Each unit at most once and largest first: "1h30m", not "30m1h" or "1s1s".
        if (!term || term->factor >= previous_factor || term->value > max_ms - total_ms) {
            return std::nullopt;
        }
        total_ms += term->value;
        previous_factor = term->factor;
    }
    return Duration(static_cast<Duration::rep>(total_ms));
}

std::string format_duration(Duration duration) {
    const auto count = duration.count();
    // Negative durations never come from a configuration; the magnitude is computed without
    // overflowing at the minimum.
    if (count < 0) return "-" + format_milliseconds(0 - static_cast<std::uint64_t>(count));
    return format_milliseconds(static_cast<std::uint64_t>(count));
}

}  // namespace faultline::rules
