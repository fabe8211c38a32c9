// The log, through which every part of faultline writes its events; a teardown record's first
// output is its log line. One logger, set up in main. Every structured event is an ordered JSON
// object with an "event" field; in text format it is rendered as `event key=value ...`, in JSON
// format as one object per line with "time" and "level" added in front.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "teardown/log_output.hpp"

namespace faultline::teardown {

enum class LogFormat { text, json };
enum class LogLevel { trace, debug, info, warn, error };

// Without a file the log goes to standard error. Throws std::invalid_argument when the level is
// unknown, std::runtime_error when the log file cannot be opened (its directory is not created).
void setup_logging(const std::string& level_text, LogFormat format,
                   const std::optional<std::string>& file);

// Opens `[log] file` again at its path (SIGHUP, after logrotate moved the file away); returns
// why it could not, and the log goes on in the file it had.
[[nodiscard]] std::optional<std::string> reopen_log();

// The log lines lost since start-up (a full disk) and why the last one was: for /metrics and
// /healthz.
[[nodiscard]] LogWriteFailures log_write_failures();

[[nodiscard]] LogFormat log_format();
// Writes what is buffered (at exit).
void flush_log();

// Logs a structured event; `text` replaces the generic `event key=value` rendering when given.
void log_event(LogLevel level, const nlohmann::ordered_json& event, const std::string& text = {});

// A plain message; in JSON format it becomes {"event":"log","message":...}.
void log_message(LogLevel level, const std::string& message);

}  // namespace faultline::teardown
