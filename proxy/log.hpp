// The one logger, set up in main. Every structured event is an ordered JSON object with an
// "event" field; in text format it is rendered as `event key=value ...`, in JSON format as one
// object per line with "time" and "level" added in front.
#pragma once

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string>

#include "rules/config.hpp"

namespace faultline::proxy {

// Throws std::runtime_error when the level is unknown or the log file cannot be opened.
void setup_logging(const rules::LogConfig& config);

[[nodiscard]] rules::LogFormat log_format();

// Logs a structured event; `text` replaces the generic `event key=value` rendering when given.
void log_event(spdlog::level::level_enum level, const nlohmann::ordered_json& event,
               const std::string& text = {});

// A plain message; in JSON format it becomes {"event":"log","message":...}.
void log_message(spdlog::level::level_enum level, const std::string& message);

}  // namespace faultline::proxy
