// `faultline run` as CI uses it: the real binary runs a real command against its proxies, and its
// exit status, summary, JSON report and JUnit report say what happened.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

// A temporary directory for reports, removed on destruction.
struct TempDirectory {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("faultline-run-" + std::to_string(::getpid()) + "-" +
                                  std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    TempDirectory() { std::filesystem::create_directories(path); }
    ~TempDirectory() { std::filesystem::remove_all(path); }
};

// Checks that `text` is well-formed XML as far as a JUnit consumer needs: one root element,
// every tag closed in order, attribute values quoted, only the five predefined entities.
// Returns "" when it is, else what is wrong.
std::string xml_problem(const std::string& text) {
    std::vector<std::string> open;
    std::size_t i = 0;
    int roots = 0;
    if (text.starts_with("<?xml")) i = text.find("?>") + 2;
    while (i < text.size()) {
        if (text[i] != '<') {
            if (text[i] == '&') {
                static const char* entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
                bool known = false;
                for (const char* entity : entities)
                    known = known || text.compare(i, std::strlen(entity), entity) == 0;
                if (!known) return "unknown entity at " + std::to_string(i);
            } else if (open.empty() && !std::isspace(static_cast<unsigned char>(text[i]))) {
                return "text outside the root at " + std::to_string(i);
            }
            ++i;
            continue;
        }
        const std::size_t end = text.find('>', i);
        if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
        std::string tag = text.substr(i + 1, end - i - 1);
        i = end + 1;
        if (tag.starts_with("/")) {
            if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag + ">";
            open.pop_back();
            continue;
        }
        const bool self_closing = tag.ends_with("/");
        if (self_closing) tag.pop_back();
        const std::string name = tag.substr(0, tag.find(' '));
        if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "unbalanced quotes in " + tag;
        if (tag.find('<') != std::string::npos) return "'<' inside tag " + tag;
        if (open.empty()) ++roots;
        if (!self_closing) open.push_back(name);
    }
    if (!open.empty()) return "unclosed <" + open.back() + ">";
    return roots == 1 ? "" : "expected one root element, found " + std::to_string(roots);
}

std::string run_config(std::uint16_t upstream_port, std::string_view expectations) {
    return proxy_config(upstream_port,
                        "  [[proxy.rule]]\n  name = \"watch\"\n  type = \"noop\"\n"
                        "  [[proxy.rule]]\n  name = \"spare\"\n  type = \"reset\"\n"
                        "  match = { clients = [\"10.0.0.0/8\"] }\n") +
           "\n" + std::string(expectations);
}

// Connects to proxy "p" through bash's /dev/tcp, prints the address it was given, and reads
// until the server side closes.
const std::vector<std::string> client_command{
    "bash", "-c",
    "echo \"p=$FAULTLINE_P_ADDR\"; exec 3<>\"/dev/tcp/${FAULTLINE_P_ADDR%:*}/"
    "${FAULTLINE_P_ADDR##*:}\" && exec cat <&3"};

std::vector<std::string> run_args(const TempConfig& config, const std::vector<std::string>& extra,
                                  const std::vector<std::string>& command) {
    std::vector<std::string> args{"run", "--config", config.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.emplace_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return args;
}

}  // namespace

TEST_SUITE("e2e run") {
    TEST_CASE("a passing command with met expectations exits 0; the reports hold the counts") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, R"([[expect]]
reason = "TCP FINs"
proxy = "p"
min = 1
max = 1

[[expect]]
rule = "watch"

[[expect]]
rule = "spare"
fired = false

[[expect]]
proxy = "p"
)"));
        TempDirectory reports;
        const auto json_path = reports.path / "report.json";
        const auto junit_path = reports.path / "junit.xml";
        // The server closes its side as soon as the connection arrives: a clean FIN exchange.
        std::thread closer([&] { Fd accepted = accept_from(server.fd.get(), 10s); });
        ProcessResult result = run_faultline(
            run_args(config, {"--report", json_path.string(), "--junit", junit_path.string()},
                     client_command),
            20s);
        closer.join();
        INFO(result.out, result.err);
        CHECK(result.status.code() == 0);
        REQUIRE(result.out.starts_with("p=127.0.0.1:"));
        const std::string address = result.out.substr(2, result.out.find('\n') - 2);
        CHECK_FALSE(address.ends_with(":0"));
        CHECK(result.err.find("PROXY  ADDRESS") != std::string::npos);
        CHECK(result.err.find("p      " + address + "  1            TCP FINs  1") !=
              std::string::npos);
        CHECK(result.err.find("watch  p      noop   1") != std::string::npos);
        CHECK(result.err.ends_with("faultline run: passed\n"));

        const Json report = Json::parse(read_file(json_path));
        CHECK(report["passed"] == true);
        CHECK(report["exit_status"] == 0);
        CHECK(report["command"] == Json(client_command));
        CHECK(report["proxies"][0] == Json{{"name", "p"},
                                           {"address", address},
                                           {"connections", 1},
                                           {"teardowns", {{"TCP FINs", 1}}}});
        CHECK(report["rules"][0]["fired"] == 1);
        CHECK(report["rules"][1]["fired"] == 0);
        REQUIRE(report["expectations"].size() == 4);
        for (const auto& expectation : report["expectations"])
            CHECK(expectation["met"] == true);
        CHECK(report["expectations"][0]["actual"] == 1);

        const std::string junit = read_file(junit_path);
        CHECK(xml_problem(junit) == "");
        CHECK(junit.find("<testsuites name=\"faultline run\" tests=\"5\" failures=\"0\"") !=
              std::string::npos);
        CHECK(junit.find("<failure") == std::string::npos);
    }

    TEST_CASE("an unmet expectation fails a passing command, saying what was expected") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, R"([[expect]]
rule = "watch"

[[expect]]
reason = "Reset-I"
)"));
        TempDirectory reports;
        const auto junit_path = reports.path / "junit.xml";
        ProcessResult result =
            run_faultline(run_args(config, {"--junit", junit_path.string()}, {"true"}), 20s);
        INFO(result.err);
        CHECK(result.status.code() == 1);
        // Each expectation's line says what was expected, what happened and where it is.
        auto line_of = [&](std::string_view start) {
            auto at = result.err.find("\n" + std::string(start));
            return at == std::string::npos
                       ? std::string()
                       : result.err.substr(at + 1, result.err.find('\n', at + 1) - at - 1);
        };
        CHECK(line_of("rule watch fired")
                  .find("NOT MET: it never fired  " + config.path() + ":14:1") !=
              std::string::npos);
        CHECK(line_of("teardowns with reason Reset-I: at least 1").find("NOT MET: saw 0") !=
              std::string::npos);
        CHECK(result.err.ends_with("faultline run: failed: 2 of 2 expectations not met\n"));
        const std::string junit = read_file(junit_path);
        CHECK(xml_problem(junit) == "");
        CHECK(junit.find("tests=\"3\" failures=\"2\"") != std::string::npos);
        CHECK(junit.find("<failure message=\"it never fired\">") != std::string::npos);
    }

    TEST_CASE("the command's own failure is the exit status, however it ended") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, ""));
        TempDirectory reports;
        const auto json_path = reports.path / "report.json";
        ProcessResult failed = run_faultline(
            run_args(config, {"--report", json_path.string()}, {"bash", "-c", "exit 3"}), 20s);
        CHECK(failed.status.code() == 3);
        CHECK(failed.err.find("`bash -c exit 3` exited with status 3") != std::string::npos);
        const Json report = Json::parse(read_file(json_path));
        CHECK(report["passed"] == false);
        CHECK(report["command_status"] == 3);

        ProcessResult killed =
            run_faultline(run_args(config, {}, {"bash", "-c", "kill -KILL $$"}), 20s);
        CHECK(killed.status.code() == 128 + 9);
        CHECK(killed.err.find("was killed by signal 9 (SIGKILL)") != std::string::npos);

        ProcessResult missing = run_faultline(run_args(config, {}, {"/nonexistent/command"}), 20s);
        CHECK(missing.status.code() == 127);
        CHECK(missing.err.starts_with(
            "faultline run: cannot start /nonexistent/command: no such file or directory\n"));
    }

    TEST_CASE("SIGTERM goes to the command; the proxies stop after it ends") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, ""));
        Faultline run(run_args(config, {}, client_command));
        Fd accepted = accept_from(server.fd.get(), 10s);
        REQUIRE(accepted.is_open());
        REQUIRE(run.wait_stdout(
            [](const std::string& out) { return out.find('\n') != std::string::npos; }));
        run.signal(SIGTERM);
        auto exited = run.wait_exit();
        REQUIRE(exited);
        CHECK(exited->code() == 128 + 15);
        // Every line of the summary is read once the process has closed its output.
        (void)run.wait_event([](const Json&) { return false; });
        INFO(run.log_tail());
        CHECK(run.log_tail().find("Xlate Clear  1") != std::string::npos);
    }

    TEST_CASE("a second SIGTERM kills a command that ignores the first") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, ""));
        Faultline run(
            run_args(config, {}, {"bash", "-c", "trap '' TERM; echo ready; exec sleep 30"}));
        REQUIRE(run.wait_stdout([](const std::string& out) { return out == "ready\n"; }));
        run.signal(SIGTERM);
        // The command ignores it; nothing ends until the second.
        CHECK_FALSE(run.wait_exit(200ms));
        run.signal(SIGTERM);
        auto exited = run.wait_exit();
        REQUIRE(exited);
        CHECK(exited->code() == 128 + 9);
    }

    TEST_CASE("a proxy that cannot listen: exit 1, the command never runs, the report says why") {
        Listener server = listen_on_loopback();
        const Listener occupied = listen_on_loopback();
        std::string toml = run_config(server.port, "");
        // The proxy would listen where another program already does.
        toml.replace(toml.find("127.0.0.1:0"), 11, occupied.text());
        TempConfig config(toml);
        TempDirectory reports;
        const auto junit_path = reports.path / "junit.xml";
        ProcessResult result = run_faultline(
            run_args(config, {"--junit", junit_path.string()}, {"bash", "-c", "echo ran"}), 20s);
        INFO(result.err);
        CHECK(result.status.code() == 1);
        CHECK(result.out.empty());
        CHECK(result.err.find("address already in use") != std::string::npos);
        const std::string junit = read_file(junit_path);
        CHECK(xml_problem(junit) == "");
        CHECK(junit.find("<failure message=\"the command did not run: proxy p: listen on") !=
              std::string::npos);
    }

    TEST_CASE("the command inherits none of faultline's descriptors, not even its log file") {
        Listener server = listen_on_loopback();
        TempDirectory logs;
        const auto log_path = (logs.path / "faultline.log").string();
        TempConfig config(run_config(server.port, "") + "\n[log]\nfile = \"" + log_path + "\"\n");
        ProcessResult result =
            run_faultline(run_args(config, {}, {"bash", "-c", "ls -l /proc/$$/fd"}), 20s);
        INFO(result.out, result.err);
        CHECK(result.status.code() == 0);
        CHECK(result.out.find("faultline.log") == std::string::npos);
        CHECK(result.out.find("socket:") == std::string::npos);
    }

    TEST_CASE("usage errors and invalid configurations exit 2 before running anything") {
        Listener server = listen_on_loopback();
        TempConfig config(run_config(server.port, "[[expect]]\nrule = \"nope\"\n"));
        ProcessResult invalid = run_faultline(run_args(config, {}, {"true"}));
        CHECK(invalid.status.code() == 2);
        CHECK(invalid.err.find("expect[0].rule: no rule named 'nope'") != std::string::npos);

        ProcessResult no_command = run_faultline({"run", "--config", config.path()});
        CHECK(no_command.status.code() == 2);
        CHECK(no_command.err.starts_with("faultline run: missing the command to run, after --"));
        ProcessResult no_config = run_faultline({"run", "--", "true"});
        CHECK(no_config.status.code() == 2);
        CHECK(no_config.err.starts_with("faultline run: --config FILE is required"));
    }
}

}  // namespace faultline::e2e
