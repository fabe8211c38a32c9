// Black-box tests of how faultline notices a saved configuration file (docs/run.md): every way of
// saving (in place with a pause after the truncation, a new file renamed over the old one, a
// Kubernetes ConfigMap's symlink swap) reloads exactly once, to the new content, never to an
// empty or half-written file; and files written beside it do not wake faultline at all.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/files_support.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

bool is_file_reload(const Json& value) {
    return value.value("event", "") == "reload" && value.value("trigger", "") == "file changed";
}

bool is_failed_reload(const Json& value) {
    return value.value("event", "") == "reload_failed";
}

// A running faultline whose configuration file lives in a directory of its own, with a server
// for its proxies.
struct WatchedConfig {
    TempDir dir;
    Listener server = listen_on_loopback();

    // The content of a configuration with proxies of these names.
    [[nodiscard]] std::string with_proxies(std::initializer_list<std::string_view> names) const {
        std::string toml;
        for (const auto name : names)
            toml += proxy_config(server.port, "", name);
        return toml;
    }
};

// The names of the proxies the API lists.
std::set<std::string> proxy_names(const sockaddr_in& api) {
    const ApiAnswer answer = api_request(api, "GET", "/proxies");
    REQUIRE(answer.status == 200);
    const Json proxies = answer.json();
    std::set<std::string> names;
    for (const auto& [name, proxy] : proxies.items())
        names.insert(name);
    return names;
}

Session open_session(Faultline& faultline, const Listener& server, std::string_view proxy) {
    Session session;
    session.client = connect_to(faultline.proxy_sockaddr(proxy));
    session.client_address = local_address(session.client.get());
    session.server = accept_from(server.fd.get());
    REQUIRE(session.server.is_open());
    return session;
}

void round_trip(Session& session) {
    REQUIRE(send_all(session.client.get(), "ping") == 0);
    CHECK(recv_exact(session.server.get(), 4).bytes == "ping");
    REQUIRE(send_all(session.server.get(), "pong") == 0);
    CHECK(recv_exact(session.client.get(), 4).bytes == "pong");
}

// After a save: exactly one more reload than `reloads_before` comes, to `proxies` proxies, and
// none after it (within a second, much longer than faultline waits for a save to settle); no
// reload failed on the way (an empty or half-written file would have).
void check_reloaded_once(Faultline& faultline, std::size_t reloads_before, std::size_t proxies) {
    std::size_t seen = 0;
    const auto reload = faultline.wait_event(
        [&](const Json& value) { return is_file_reload(value) && ++seen == reloads_before + 1; });
    REQUIRE_MESSAGE(reload, "the save caused no reload\n" << faultline.log_tail());
    CHECK((*reload)["proxies"] == proxies);
    seen = 0;
    const auto another = faultline.wait_event(
        [&](const Json& value) { return is_file_reload(value) && ++seen == reloads_before + 2; },
        1s);
    if (another) FAIL_CHECK("a second reload for one save: " << another->dump());
    CHECK(count_events(faultline, is_failed_reload) == 0);
}

// Voluntary context switches of the process's main thread (the event loop): each time the loop
// wakes up from waiting, the count goes up by one.
long loop_wakeups(pid_t pid) {
    const std::string path =
        "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/status";
    std::ifstream status(path);
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("voluntary_ctxt_switches:")) return std::stol(line.substr(24));
    }
    return -1;
}

}  // namespace

TEST_SUITE("e2e config watch") {
    TEST_CASE(
        "a file truncated, left empty for a moment, then written reloads once, to the new "
        "content, and the open connection stays") {
        for (const bool is_one_descriptor : {true, false}) {
            CAPTURE(is_one_descriptor);
            WatchedConfig setup;
            const std::string path = setup.dir / "chaos.toml";
            write_text(path, setup.with_proxies({"p"}));
            Faultline faultline(Faultline::serve_args(path));
            REQUIRE(faultline.wait_ready());
            const sockaddr_in api = api_address_of(faultline);
            Session session = open_session(faultline, setup.server, "p");
            round_trip(session);

            // As an editor that saves in place does: truncate, a pause (longer than 50 ms), write.
            const std::string next = setup.with_proxies({"p", "q"});
            int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
            REQUIRE(fd >= 0);
            if (!is_one_descriptor) {
                ::close(fd);
                std::this_thread::sleep_for(200ms);
                fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
                REQUIRE(fd >= 0);
            } else {
                std::this_thread::sleep_for(200ms);
            }
            write_all(fd, next, path);
            ::close(fd);

            check_reloaded_once(faultline, 0, 2);
            CHECK(proxy_names(api) == std::set<std::string>{"p", "q"});
            round_trip(session);
            CHECK_FALSE(faultline.wait_teardown_of(session.client_address, 0ms));
        }
    }

    TEST_CASE("an empty file is never applied, on save or SIGHUP; the next save is") {
        WatchedConfig setup;
        const std::string path = setup.dir / "chaos.toml";
        write_text(path, setup.with_proxies({"p"}));
        Faultline faultline(Faultline::serve_args(path));
        REQUIRE(faultline.wait_ready());
        const sockaddr_in api = api_address_of(faultline);
        const auto is_ignored = [](const Json& value) {
            return value.value("event", "") == "reload_ignored";
        };

        write_text(path, " \n\t\n");
        REQUIRE(faultline.wait_event(is_ignored));
        REQUIRE(faultline.signal(SIGHUP));
        std::size_t seen = 0;
        const auto second = faultline.wait_event(
            [&](const Json& value) { return is_ignored(value) && ++seen == 2; });
        REQUIRE(second);
        CHECK((*second)["trigger"] == "SIGHUP");
        CHECK(proxy_names(api) == std::set<std::string>{"p"});

        write_text(path, setup.with_proxies({"q"}));
        check_reloaded_once(faultline, 0, 1);
        CHECK(proxy_names(api) == std::set<std::string>{"q"});
    }

    TEST_CASE("a file written in two parts with a pause between is not applied half written") {
        WatchedConfig setup;
        const std::string path = setup.dir / "chaos.toml";
        write_text(path, setup.with_proxies({"p"}));
        Faultline faultline(Faultline::serve_args(path));
        REQUIRE(faultline.wait_ready());
        const sockaddr_in api = api_address_of(faultline);

        // The first part alone is a valid file with one proxy, "q".
        const std::string first = setup.with_proxies({"q"});
        const std::string second = setup.with_proxies({"r"});
        const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        REQUIRE(fd >= 0);
        write_all(fd, first, path);
        std::this_thread::sleep_for(300ms);
        write_all(fd, second, path);
        ::close(fd);

        check_reloaded_once(faultline, 0, 2);
        CHECK(proxy_names(api) == std::set<std::string>{"q", "r"});
    }

    TEST_CASE("each save that renames a new file over the old one reloads once, to its content") {
        WatchedConfig setup;
        const std::string path = setup.dir / "chaos.toml";
        write_text(path, setup.with_proxies({"p"}));
        Faultline faultline(Faultline::serve_args(path));
        REQUIRE(faultline.wait_ready());
        const sockaddr_in api = api_address_of(faultline);

        // Twice: the second save replaces a file that itself came by rename.
        std::size_t reloads = 0;
        for (const auto& names : {std::set<std::string>{"p", "q"}, std::set<std::string>{"r"}}) {
            std::string next;
            for (const auto& name : names)
                next += setup.with_proxies({name});
            const std::string staged = setup.dir / "chaos.toml.tmp";
            write_text(staged, next);
            REQUIRE(std::rename(staged.c_str(), path.c_str()) == 0);
            check_reloaded_once(faultline, reloads++, names.size());
            CHECK(proxy_names(api) == names);
        }
    }

    TEST_CASE(
        "a Kubernetes ConfigMap update (a new ..data symlink renamed into place) reloads once, to "
        "the new content") {
        WatchedConfig setup;
        namespace fs = std::filesystem;
        // The layout the kubelet writes: config.toml -> ..data/config.toml, ..data -> ..<time>.
        fs::create_directory(setup.dir / "..2026_01_01");
        write_text(setup.dir / "..2026_01_01/config.toml", setup.with_proxies({"p"}));
        fs::create_directory_symlink("..2026_01_01", setup.dir / "..data");
        fs::create_symlink("..data/config.toml", setup.dir / "config.toml");
        Faultline faultline(Faultline::serve_args(setup.dir / "config.toml"));
        REQUIRE(faultline.wait_ready());
        const sockaddr_in api = api_address_of(faultline);

        std::string current = "..2026_01_01";
        std::size_t reloads = 0;
        for (const auto& [version, names] :
             {std::pair<std::string, std::set<std::string>>{"..2026_01_02", {"p", "q"}},
              std::pair<std::string, std::set<std::string>>{"..2026_01_03", {"r"}}}) {
            std::string next;
            for (const auto& name : names)
                next += setup.with_proxies({name});
            fs::create_directory(setup.dir / version);
            write_text(setup.dir / (version + "/config.toml"), next);
            fs::create_directory_symlink(version, setup.dir / "..data_tmp");
            fs::rename(setup.dir / "..data_tmp", setup.dir / "..data");
            fs::remove_all(setup.dir / current);
            current = version;
            check_reloaded_once(faultline, reloads++, names.size());
            CHECK(proxy_names(api) == names);
        }
    }

    TEST_CASE("files written beside the configuration file neither reload nor wake faultline") {
        WatchedConfig setup;
        const std::string path = setup.dir / "chaos.toml";
        write_text(path, setup.with_proxies({"p"}));
        Faultline faultline(Faultline::serve_args(path));
        REQUIRE(faultline.wait_ready());
        (void)api_address_of(faultline);

        const std::string neighbour = setup.dir / "app.log";
        const int fd = ::open(neighbour.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        const long before = loop_wakeups(faultline.pid());
        REQUIRE(before >= 0);
        const auto started = SteadyClock::now();
        constexpr int writes = 400;
        for (int i = 0; i < writes; ++i) {
            write_all(fd, "a busy neighbour writes a line\n", neighbour);
            std::this_thread::sleep_for(1ms);
        }
        ::close(fd);
        const long while_written = loop_wakeups(faultline.pid()) - before;
        // The loop's own timers wake it too: as often in as long a time with no writes.
        std::this_thread::sleep_for(Millis(ms_since(started)));
        const long idle = loop_wakeups(faultline.pid()) - before - while_written;
        INFO("the loop woke up " << while_written << " times during " << writes << " writes, and "
                                 << idle << " times in as long without");
        CHECK(while_written - idle < writes / 8);
        CHECK(count_events(faultline, is_reload_outcome) == 0);
    }
}

}  // namespace faultline::e2e
