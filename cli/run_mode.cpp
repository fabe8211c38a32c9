// CI mode: the command as a child of the loop, its environment and signals, and the reports
// written once it ends.
#include "cli/run_mode.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <unistd.h>
#include <uv.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>

#include "cli/app.hpp"
#include "cli/run_report.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/config.hpp"
#include "teardown/log.hpp"

extern char** environ;

namespace faultline::cli {
namespace {

constexpr std::string_view run_usage =
    R"(usage: faultline run --config FILE [options] -- COMMAND [ARGS...]

Starts the proxies of FILE, runs COMMAND with each proxy's address in FAULTLINE_<NAME>_ADDR
(name upper-cased, other characters than letters and digits as _), stops the proxies when the
command ends, prints connections by proxy and reason and rules by how often they fired, checks
the file's [[expect]] entries, and exits with the command's status; with 1 when the command
passed but an expectation was not met. The control API is served only with --api.

options:
  --config FILE            TOML configuration (required)
  --report FILE            write the results as JSON
  --junit FILE             write the results as JUnit XML
  --api HOST:PORT          also serve the control API
  --grace DURATION         after the command ends, how long connections may take to close by
                           themselves before they are reset (default 1s)
  --log-format text|json   log line format (default text)
  --log-level LEVEL        default warn, or the file's [log] level
)";

struct Usage {
    std::string message;
};

struct Options {
    std::string config_path;
    std::optional<std::string> report_path;
    std::optional<std::string> junit_path;
    std::optional<std::string> api;
    std::optional<std::string> log_format;
    std::optional<std::string> log_level;
    std::chrono::milliseconds grace{1000};
    std::vector<std::string> command;
};

Options parse_options(const std::vector<std::string_view>& args) {
    Options options;
    std::optional<std::string> config;
    std::optional<std::string> grace;
    std::size_t i = 0;
    for (; i < args.size() && args[i] != "--"; ++i) {
        std::string_view arg = args[i];
        auto value = [&](std::optional<std::string>& slot) {
            if (i + 1 >= args.size() || args[i + 1] == "--") {
                throw Usage{std::string(arg) + " needs a value"};
            }
            slot = std::string(args[++i]);
        };
        if (arg == "--config") {
            value(config);
        } else if (arg == "--report") {
            value(options.report_path);
        } else if (arg == "--junit") {
            value(options.junit_path);
        } else if (arg == "--api") {
            value(options.api);
        } else if (arg == "--log-format") {
            value(options.log_format);
        } else if (arg == "--log-level") {
            value(options.log_level);
        } else if (arg == "--grace") {
            value(grace);
        } else {
            throw Usage{"unknown option '" + std::string(arg) + "' (the command goes after --)"};
        }
    }
    if (!config) throw Usage{"--config FILE is required"};
    if (grace) {
        auto parsed = rules::parse_duration(*grace);
        if (!parsed)
            throw Usage{"--grace: expected a duration like 500ms or 2s, got '" + *grace + "'"};
        options.grace = *parsed;
    }
    options.config_path = *config;
    if (i < args.size()) ++i;  // the "--"
    for (; i < args.size(); ++i)
        options.command.emplace_back(args[i]);
    if (options.command.empty()) throw Usage{"missing the command to run, after --"};
    return options;
}

void apply_options(const Options& options, rules::Config& config) {
    if (auto problem =
            rules::apply_overrides(config, {options.api, options.log_format, options.log_level})) {
        throw Usage{*problem};
    }
    // The command's own output matters most: faultline says only what went wrong unless asked.
    if (!config.log.is_level_given) {
        config.log.level = "warn";
    }
}

// Refuses two proxy names that would give the same variable.
void check_address_variables(const rules::Config& config) {
    std::map<std::string, std::string> owners;
    for (const auto& proxy : config.proxies) {
        auto [it, is_new] = owners.emplace(address_variable(proxy.name), proxy.name);
        if (!is_new) {
            throw Usage{"proxies '" + it->second + "' and '" + proxy.name +
                        "' would both be exported as " + it->first + "; rename one"};
        }
    }
}

std::string signal_text(int signum) {
    const char* name = sigabbrev_np(signum);
    return "was killed by signal " + std::to_string(signum) +
           (name ? " (SIG" + std::string(name) + ")" : std::string());
}

// The command as a child of the loop: started once the proxies listen; when it ends, the
// proxies stop. SIGINT and SIGTERM sent to faultline go to the command, which decides.
class Child {
  public:
    Child(App& app, std::vector<std::string> command, std::chrono::milliseconds grace)
        : app_(app), command_(std::move(command)), grace_(grace) {}

    // `addresses`: each proxy's name and the address it listens on.
    void start(const std::vector<std::pair<std::string, std::string>>& addresses) {
        std::vector<std::string> environment;
        std::map<std::string, std::string> exported;
        for (const auto& [name, address] : addresses)
            exported[address_variable(name)] = address;
        for (char** entry = environ; entry && *entry; ++entry) {
            std::string_view text(*entry);
            if (!exported.contains(std::string(text.substr(0, text.find('='))))) {
                environment.emplace_back(text);
            }
        }
        for (const auto& [variable, address] : exported)
            environment.emplace_back(variable).append("=").append(address);

        std::vector<char*> argv;
        argv.reserve(command_.size() + 1);
        for (auto& word : command_)
            argv.push_back(word.data());
        argv.push_back(nullptr);
        std::vector<char*> envp;
        envp.reserve(environment.size() + 1);
        for (auto& entry : environment)
            envp.push_back(entry.data());
        envp.push_back(nullptr);

        // The command's standard streams are faultline's; one that faultline lacks it lacks too.
        uv_stdio_container_t stdio[3];
        for (int fd = 0; fd < 3; ++fd) {
            bool is_open = ::fcntl(fd, F_GETFD) != -1;
            stdio[fd].flags = is_open ? UV_INHERIT_FD : UV_IGNORE;
            stdio[fd].data.fd = fd;
        }
        uv_process_options_t options{};
        options.exit_cb = on_exit;
        options.file = argv[0];
        options.args = argv.data();
        options.env = envp.data();
        options.stdio_count = 3;
        options.stdio = stdio;
        started_at_ = uv_now(app_.loop());
        // Nothing of faultline's but the standard streams may reach the command: spdlog opens
        // the log file ([log] file) without close-on-exec.
        (void)::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        int err = uv_spawn(app_.loop(), process_.get(), &options);
        process_.mark_initialised();  // initialised even when the spawn failed: it must be closed
        if (err != 0) {
            std::cerr << "faultline run: cannot start " << command_[0] << ": " << uv_strerror(err)
                      << '\n';
            // As shells do: 127 for a command not found, 126 for one that cannot be executed.
            status_ = err == UV_ENOENT ? 127 : 126;
            outcome_ = "could not start (" + std::string(uv_err_name(err)) + ")";
            process_.close();
            app_.stop("the command could not start");
            return;
        }
        is_running_ = true;
        app_.on_stop_signal = [this](int signum) { return forward(signum); };
    }

    [[nodiscard]] int status() const { return status_; }
    [[nodiscard]] const std::string& outcome() const { return outcome_; }
    [[nodiscard]] std::uint64_t duration_ms() const { return duration_ms_; }

  private:
    // SIGTERM and SIGINT go to the command, which decides when to end; a second one kills it.
    // A Ctrl-C at a terminal already reached the command (same process group): not sent twice.
    bool forward(int signum) {
        if (!is_running_) return false;
        if (signals_forwarded_++ > 0) {
            (void)uv_process_kill(process_.get(), SIGKILL);
        } else if (signum != SIGINT || !::isatty(0)) {
            (void)uv_process_kill(process_.get(), signum);
        }
        return true;
    }

    static void on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal) {
        auto* self = static_cast<Child*>(process->data);
        if (!self) return;
        self->is_running_ = false;
        self->duration_ms_ = uv_now(self->app_.loop()) - self->started_at_;
        if (term_signal != 0) {
            self->status_ = 128 + term_signal;
            self->outcome_ = signal_text(term_signal);
        } else {
            self->status_ = static_cast<int>(exit_status);
            self->outcome_ = "exited with status " + std::to_string(exit_status);
        }
        self->process_.close();
        self->app_.drain_then_stop(self->grace_, "the command ended");
    }

    App& app_;
    std::vector<std::string> command_;
    std::chrono::milliseconds grace_;
    proxy::UvHandle<uv_process_t> process_{this};
    bool is_running_ = false;
    int signals_forwarded_ = 0;
    std::uint64_t started_at_ = 0;
    std::uint64_t duration_ms_ = 0;
    int status_ = 0;
    std::string outcome_ = "did not run";
};

RunSummary summarize(const App& app, const Child& child, const std::vector<std::string>& command,
                     const std::vector<std::pair<std::string, std::string>>& addresses) {
    RunSummary summary;
    summary.command = command;
    summary.command_status = child.status();
    summary.command_outcome = child.outcome();
    summary.duration_ms = child.duration_ms();
    for (const auto& [name, address] : addresses)
        summary.proxies.push_back({name, address});
    for (const auto& proxy : app.config().proxies) {
        for (const auto& rule : proxy.rules)
            summary.rules.push_back({proxy.name, rule.name, std::string(rule.type())});
    }
    summary.counts = app.final_counters();
    summary.expectations = check_expectations(app.config().expectations, summary.counts);
    return summary;
}

// Writes `text` to `path`; false with a message when it cannot.
bool write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) {
        std::cerr << "faultline run: cannot write " << path << ": " << std::strerror(errno) << '\n';
        return false;
    }
    return true;
}

}  // namespace

std::string address_variable(std::string_view proxy_name) {
    std::string variable = "FAULTLINE_";
    for (char c : proxy_name) {
        variable += std::isalnum(static_cast<unsigned char>(c))
                        ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                        : '_';
    }
    return variable + "_ADDR";
}

int run_mode(const std::vector<std::string_view>& args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << run_usage;
        return 0;
    }
    Options options;
    rules::Config config;
    try {
        options = parse_options(args);
        config = rules::load_config(options.config_path);
        apply_options(options, config);
        check_address_variables(config);
        if (options.api) {
            if (auto conflict = rules::api_listen_conflict(config, "--api")) throw Usage{*conflict};
        }
        teardown::setup_logging(config.log.level, config.log.format, config.log.file);
    } catch (const Usage& usage) {
        std::cerr << "faultline run: " << usage.message << "\n\n" << run_usage;
        return 2;
    } catch (const rules::ConfigError& e) {
        for (const auto& error : e.errors())
            std::cerr << error << '\n';
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "faultline run: " << e.what() << '\n';
        return 2;
    } catch (const std::runtime_error& e) {
        // The log file cannot be opened: a start-up failure.
        std::cerr << "faultline run: " << e.what() << '\n';
        return 1;
    }

    App app(std::move(config));
    app.serve_api(options.api.has_value());
    Child child(app, options.command, options.grace);
    std::vector<std::pair<std::string, std::string>> addresses;
    app.on_ready = [&] {
        addresses = app.proxy_addresses();
        child.start(addresses);
    };
    std::optional<std::string> startup_error;
    try {
        app.run();
    } catch (const StartupError& e) {
        // The command never ran; the reports still say why, so that CI finds them.
        std::cerr << "faultline run: " << e.what() << '\n';
        startup_error = e.what();
    }

    RunSummary summary = summarize(app, child, options.command, addresses);
    if (startup_error) {
        summary.command_status = 1;
        summary.command_outcome = "did not run: " + *startup_error;
    }
    std::cerr << '\n' << summary_text(summary);
    bool written = true;
    if (options.report_path) {
        // Arguments need not be UTF-8; invalid bytes are replaced rather than lose the report.
        const std::string json =
            report_json(summary).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        written = write_file(*options.report_path, json + "\n") && written;
    }
    if (options.junit_path) {
        written = write_file(*options.junit_path, report_junit(summary)) && written;
    }
    int status = summary.exit_status();
    return status == 0 && !written ? 1 : status;
}

}  // namespace faultline::cli
