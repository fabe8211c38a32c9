// Logging set-up and the rendering of structured events.
#include "proxy/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

namespace faultline::proxy {
namespace {

rules::LogFormat format_ = rules::LogFormat::text;

std::string utc_timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto seconds = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
    return fmt::format("{}.{:03}Z", buffer, millis);
}

std::string_view level_name(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
            return "trace";
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warn";
        case spdlog::level::err:
            return "error";
        default:
            return "critical";
    }
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

void setup_logging(const rules::LogConfig& config) {
    auto level = spdlog::level::from_str(config.level);
    if (level == spdlog::level::off && config.level != "off") {
        throw std::runtime_error("unknown log level '" + config.level +
                                 "'; known: trace, debug, info, warn, error");
    }
    spdlog::sink_ptr sink;
    if (config.file) {
        try {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(*config.file);
        } catch (const spdlog::spdlog_ex& e) {
            throw std::runtime_error("cannot open log file " + *config.file + ": " + e.what());
        }
    } else {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    auto logger = std::make_shared<spdlog::logger>("faultline", sink);
    format_ = config.format;
    logger->set_pattern(format_ == rules::LogFormat::json ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

rules::LogFormat log_format() {
    return format_;
}

void log_event(spdlog::level::level_enum level, const nlohmann::ordered_json& event,
               const std::string& text) {
    if (!spdlog::should_log(level)) return;
    if (format_ == rules::LogFormat::json) {
        nlohmann::ordered_json line;
        line["time"] = utc_timestamp();
        line["level"] = level_name(level);
        for (const auto& [key, value] : event.items())
            line[key] = value;
        spdlog::log(level, "{}", line.dump());
    } else {
        spdlog::log(level, "{}", text.empty() ? generic_text(event) : text);
    }
}

void log_message(spdlog::level::level_enum level, const std::string& message) {
    if (format_ == rules::LogFormat::json) {
        log_event(level, {{"event", "log"}, {"message", message}});
    } else {
        spdlog::log(level, "{}", message);
    }
}

}  // namespace faultline::proxy
