// Durations ("500ms", "30s", "1m30s") and byte sizes ("64KiB", "1MiB") as configuration and API
// input write them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultline::rules {

using Duration = std::chrono::milliseconds;

// "500ms", "30s", "10m", "1h", "1m30s", "0"; each unit at most once, largest first; nullopt when
// malformed.
[[nodiscard]] std::optional<Duration> parse_duration(std::string_view text);
// The largest unit that divides the duration exactly: "1h", "90s", "250ms", "0s".
[[nodiscard]] std::string format_duration(Duration duration);
// "64KiB", "1MiB", "4096B", "10KB": a whole number of bytes with a unit (KB and MB decimal, KiB and
// MiB binary); nullopt when malformed or too large.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace faultline::rules
