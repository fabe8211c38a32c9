// Logging set-up and the rendering of structured events.
#include "teardown/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

namespace faultline::teardown {
namespace {

LogFormat format_in_use = LogFormat::text;

std::string utc_timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto seconds = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[32];
    (void)std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
    return fmt::format("{}.{:03}Z", buffer, millis);
}

std::string_view level_name(LogLevel level) {
    switch (level) {
        case LogLevel::trace:
            return "trace";
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "error";
}

spdlog::level::level_enum spdlog_level(LogLevel level) {
    switch (level) {
        case LogLevel::trace:
            return spdlog::level::trace;
        case LogLevel::debug:
            return spdlog::level::debug;
        case LogLevel::info:
            return spdlog::level::info;
        case LogLevel::warn:
            return spdlog::level::warn;
        case LogLevel::error:
            return spdlog::level::err;
    }
    return spdlog::level::err;
}

std::string text_value(const nlohmann::ordered_json& value) {
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        if (text.find_first_of(" \"=") == std::string::npos && !text.empty()) return text;
        return value.dump();
    }
    if (value.is_null()) return "-";
    return value.dump();
}

std::string generic_text(const nlohmann::ordered_json& event) {
    std::string text = event.value("event", "event");
    for (const auto& [key, value] : event.items()) {
        if (key == "event") continue;
        text += ' ';
        text += key;
        text += '=';
        text += text_value(value);
    }
    return text;
}

}  // namespace

void setup_logging(const std::string& level_text, LogFormat format,
                   const std::optional<std::string>& file) {
    auto level = spdlog::level::from_str(level_text);
    if (level == spdlog::level::off && level_text != "off") {
        throw std::runtime_error("unknown log level '" + level_text +
                                 "'; known: trace, debug, info, warn, error");
    }
    spdlog::sink_ptr sink;
    if (file) {
        try {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(*file);
        } catch (const spdlog::spdlog_ex& e) {
            throw std::runtime_error("cannot open log file " + *file + ": " + e.what());
        }
    } else {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    auto logger = std::make_shared<spdlog::logger>("faultline", sink);
    format_in_use = format;
    logger->set_pattern(format_in_use == LogFormat::json ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

LogFormat log_format() {
    return format_in_use;
}

void flush_log() {
    spdlog::default_logger()->flush();
}

void log_event(LogLevel level, const nlohmann::ordered_json& event, const std::string& text) {
    if (!spdlog::should_log(spdlog_level(level))) return;
    if (format_in_use == LogFormat::json) {
        nlohmann::ordered_json line;
        line["time"] = utc_timestamp();
        line["level"] = level_name(level);
        for (const auto& [key, value] : event.items())
            line[key] = value;
        spdlog::log(spdlog_level(level), "{}", line.dump());
    } else {
        spdlog::log(spdlog_level(level), "{}", text.empty() ? generic_text(event) : text);
    }
}

void log_message(LogLevel level, const std::string& message) {
    if (format_in_use == LogFormat::json) {
        log_event(level, {{"event", "log"}, {"message", message}});
    } else {
        spdlog::log(spdlog_level(level), "{}", message);
    }
}

}  // namespace faultline::teardown
