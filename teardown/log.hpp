// The log, through which every part of faultline writes its events; a teardown record's first
// output is its log line. One logger, set up in main. Every structured event is an ordered JSON
// object with an "event" field; in text format it is rendered as `event key=value ...`, in JSON
// format as one object per line with "time" and "level" added in front.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace faultline::teardown {

enum class LogFormat { text, json };
enum class LogLevel { trace, debug, info, warn, error };

// Throws std::runtime_error when the level is unknown or the log file cannot be opened. Without
// a file the log goes to standard error.
void setup_logging(const std::string& level_text, LogFormat format,
                   const std::optional<std::string>& file);

[[nodiscard]] LogFormat log_format();
// Writes what is buffered (at exit).
void flush_log();

// Logs a structured event; `text` replaces the generic `event key=value` rendering when given.
void log_event(LogLevel level, const nlohmann::ordered_json& event, const std::string& text = {});

// A plain message; in JSON format it becomes {"event":"log","message":...}.
void log_message(LogLevel level, const std::string& message);

}  // namespace faultline::teardown
