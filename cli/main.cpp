// faultline's command line: parse arguments, load the configuration, run the loop, and map
// errors to exit statuses (2: configuration or usage, 1: start-up).
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cli/app.hpp"
#include "cli/ctl.hpp"
#include "cli/run_mode.hpp"
#include "rules/config.hpp"
#include "teardown/log.hpp"

namespace {

using faultline::rules::Config;
using faultline::rules::ConfigError;

constexpr std::string_view main_usage = R"(usage: faultline <command> [options]

A fault-injection TCP proxy.

commands:
  serve [--config FILE] [--api HOST:PORT] [--log-format text|json] [--log-level LEVEL]
                 start the proxies of FILE and the control API
  check FILE     validate a configuration file; exit 0 when valid, 2 when not
  run --config FILE [--report F] [--junit F] -- COMMAND [ARGS...]
                 CI mode: run COMMAND against the proxies, check [[expect]], exit with its status
  ctl COMMAND    drive a running faultline through its API (`faultline ctl --help`)

options:
  --version      print the version
  --help         this text; `faultline <command> --help` for a command
)";

constexpr std::string_view serve_usage = R"(usage: faultline serve [options]

Starts the proxies of the configuration file and the control API, and runs until SIGTERM or
SIGINT. Without --config only the API is served. Command-line values override the file.

options:
  --config FILE            TOML configuration
  --api HOST:PORT          control API address (default 127.0.0.1:8474)
  --log-format text|json   log line format (default text)
  --log-level LEVEL        trace, debug, info, warn or error (default info)
)";

constexpr std::string_view check_usage = R"(usage: faultline check FILE

Validates a configuration file. Prints every error with its file:line:col and exits 2 when the
file is invalid; exits 0 when it is valid.
)";

// Names the control API's address in messages when the command line did not give it.
std::string default_api_origin() {
    return "api.listen, by default " + faultline::rules::ApiConfig{}.listen.text();
}

struct UsageError {
    std::string message;
    std::string_view usage;
};

int run_check(const std::vector<std::string_view>& args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << check_usage;
        return 0;
    }
    if (args.size() != 1) throw UsageError{"check takes exactly one FILE", check_usage};
    std::string path(args[0]);
    Config config;
    try {
        config = faultline::rules::load_config(path);
    } catch (const ConfigError& e) {
        for (const auto& error : e.errors())
            std::cerr << error << '\n';
        return 2;
    }
    // What `serve` would fail on at start beyond the file's own errors.
    if (config.log.file) {
        if (auto problem = faultline::teardown::log_file_problem(*config.log.file)) {
            std::cerr << config.log.file_where << ": log.file: cannot open " << *config.log.file
                      << ": " << *problem << '\n';
            return 2;
        }
    }
    if (auto conflict = faultline::rules::api_listen_conflict(config, default_api_origin())) {
        std::cerr << path << ": " << *conflict << '\n';
        return 2;
    }
    std::cout << path << ": ok (" << config.proxies.size() << " proxies)\n";
    return 0;
}

int run_serve(const std::vector<std::string_view>& args) {
    std::optional<std::string> config_path, api, log_format, log_level;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << serve_usage;
            return 0;
        }
        auto value = [&](std::optional<std::string>& slot) {
            if (i + 1 >= args.size())
                throw UsageError{std::string(arg) + " needs a value", serve_usage};
            slot = std::string(args[++i]);
        };
        if (arg == "--config") {
            value(config_path);
        } else if (arg == "--api") {
            value(api);
        } else if (arg == "--log-format") {
            value(log_format);
        } else if (arg == "--log-level") {
            value(log_level);
        } else {
            throw UsageError{"unknown option '" + std::string(arg) + "'", serve_usage};
        }
    }

    Config config;
    try {
        if (config_path) config = faultline::rules::load_config(*config_path);
    } catch (const ConfigError& e) {
        for (const auto& error : e.errors())
            std::cerr << error << '\n';
        return 2;
    }
    if (auto problem = faultline::rules::apply_overrides(config, {api, log_format, log_level})) {
        throw UsageError{*problem, serve_usage};
    }
    if (auto conflict = faultline::rules::api_listen_conflict(
            config, api ? std::string("--api") : default_api_origin())) {
        std::cerr << "faultline: " << *conflict << '\n';
        return 2;
    }
    try {
        faultline::teardown::setup_logging(config.log.level, config.log.format, config.log.file);
    } catch (const std::invalid_argument& e) {
        throw UsageError{e.what(), serve_usage};
    }

    faultline::cli::App app(std::move(config), config_path);
    app.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A write into a reset socket must be an error value, not the end of the process.
    (void)std::signal(SIGPIPE, SIG_IGN);

    std::vector<std::string_view> args(argv + 1, argv + argc);
    try {
        if (args.empty()) throw UsageError{"missing command", main_usage};
        std::string_view command = args[0];
        std::vector<std::string_view> rest(args.begin() + 1, args.end());
        if (command == "--version" || command == "version") {
            std::cout << "faultline " << FAULTLINE_VERSION << '\n';
            return 0;
        }
        if (command == "--help" || command == "-h" || command == "help") {
            std::cout << main_usage;
            return 0;
        }
        if (command == "serve") return run_serve(rest);
        if (command == "check") return run_check(rest);
        if (command == "ctl") return faultline::cli::run_ctl(rest);
        if (command == "run") return faultline::cli::run_mode(rest);
        throw UsageError{"unknown command '" + std::string(command) + "'", main_usage};
    } catch (const UsageError& e) {
        std::cerr << "faultline: " << e.message << "\n\n" << e.usage;
        return 2;
    } catch (const faultline::cli::StartupError& e) {
        std::cerr << "faultline: " << e.what() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "faultline: " << e.what() << '\n';
        return 1;
    }
}
