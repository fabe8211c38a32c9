// Loop tests: a Proxy and its sessions on a real libuv loop with real sockets on 127.0.0.1. The
// endpoints run on a helper thread with blocking sockets; each test ends with uv_loop_close() ==
// 0, so a handle that a session leaks fails the test that leaked it.
#include "proxy/session.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <thread>

#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "rules/config.hpp"
#include "tests/proxy/sockets.hpp"

namespace faultline::proxy {
namespace {

// A proxy named `name` on 127.0.0.1 (a free port) in front of 127.0.0.1:upstream_port.
rules::ProxyConfig loop_config(const std::string& name, std::uint16_t upstream_port) {
    rules::ProxyConfig config;
    config.name = name;
    config.listen = {"127.0.0.1", 0};
    config.upstream = {"127.0.0.1", upstream_port};
    return config;
}

std::string read_to_eof(int fd) {
    std::string out;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0)
        out.append(buffer, static_cast<std::size_t>(n));
    return out;
}

// Runs `endpoints` on a thread while the loop runs here; then clears what is left and requires
// that the loop closes cleanly.
void run_proxy(const rules::ProxyConfig& config,
               const std::function<void(const std::string&)>& endpoints) {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        Runtime runtime(&loop);
        Proxy proxy(runtime, config);
        REQUIRE(proxy.start() == 0);
        std::string address = proxy.listen_address();

        struct Done {
            uv_async_t async{};
            Runtime* runtime = nullptr;
            Proxy* proxy = nullptr;
        } done;
        done.runtime = &runtime;
        done.proxy = &proxy;
        done.async.data = &done;
        REQUIRE(uv_async_init(&loop, &done.async, [](uv_async_t* handle) {
                    auto* d = static_cast<Done*>(handle->data);
                    d->proxy->stop_listening();
                    d->runtime->clear_sessions(nullptr, teardown::Reason::xlate_clear);
                    d->runtime->close();
                    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
                }) == 0);
        std::thread thread([&] {
            endpoints(address);
            uv_async_send(&done.async);
        });
        uv_run(&loop, UV_RUN_DEFAULT);
        thread.join();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace

TEST_SUITE("proxy/session") {
    TEST_CASE("loop detection matches both ends of a connection, not a shared local port") {
        uv_loop_t loop;
        REQUIRE(uv_loop_init(&loop) == 0);
        const rules::ProxyConfig config = loop_config("loop", 9);
        {
            Runtime runtime(&loop);
            Proxy proxy(runtime, config);
            Session& upstream = runtime.create_session(proxy);
            // An upstream socket of this proxy, from local port 40000 to the proxy's own port.
            auto at = [](std::string address) { return [address] { return address; }; };
            runtime.register_upstream("127.0.0.1:40000", at("127.0.0.1:5000"), upstream);
            CHECK(runtime.loop_chain("127.0.0.1:40000", at("127.0.0.1:5000"), proxy) ==
                  std::vector<Session*>{&upstream});
            // The same connection seen by a dual-stack listener.
            CHECK(runtime.loop_chain("[::ffff:127.0.0.1]:40000", at("[::ffff:127.0.0.1]:5000"),
                                     proxy) == std::vector<Session*>{&upstream});
            CHECK(runtime.is_own_upstream("127.0.0.1:40000", at("127.0.0.1:5000")));
            // A client that the kernel gave the same local port, towards the proxy, while the
            // upstream socket goes elsewhere: no loop.
            runtime.unregister_upstream("127.0.0.1:40000", upstream);
            runtime.register_upstream("127.0.0.1:40000", at("127.0.0.1:6000"), upstream);
            CHECK(runtime.loop_chain("127.0.0.1:40000", at("127.0.0.1:5000"), proxy).empty());
            CHECK_FALSE(runtime.is_own_upstream("127.0.0.1:40000", at("127.0.0.1:5000")));
            runtime.unregister_upstream("127.0.0.1:40000", upstream);
            runtime.clear_sessions(nullptr, teardown::Reason::xlate_clear);
            runtime.close();
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }

    TEST_CASE("closing the listener records the connections still waiting to be accepted") {
        uv_loop_t loop;
        REQUIRE(uv_loop_init(&loop) == 0);
        std::uint16_t port = 0;
        int server = listen_any(port);
        const rules::ProxyConfig config = loop_config("queue", port);
        int clients[2] = {-1, -1};
        {
            Runtime runtime(&loop);
            std::vector<nlohmann::ordered_json> records;
            runtime.on_record = [&](const nlohmann::ordered_json& record) {
                records.push_back(record);
            };
            Proxy proxy(runtime, config);
            REQUIRE(proxy.start() == 0);
            // The loop does not run: both handshakes complete in the kernel's accept queue.
            for (int& client : clients)
                client = connect_to(proxy.listen_address());
            proxy.stop_listening();
            REQUIRE(records.size() == 2);
            for (const auto& record : records) {
                CHECK(record["reason"] == "Xlate Clear");
                CHECK(record["initiator"] == "faultline");
                CHECK(record["client"]["state"] == "rst_sent");
                CHECK(record["server"]["state"] == "not_connected");
            }
            runtime.close();
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
        for (int client : clients) {
            char byte;
            CHECK(recv(client, &byte, 1, 0) == -1);
            CHECK(errno == ECONNRESET);
            close(client);
        }
        close(server);
    }

    TEST_CASE("forwards a request and a reply across a half-close and leaks no handle") {
        std::uint16_t port = 0;
        int server = listen_any(port);
        const rules::ProxyConfig config = loop_config("loop", port);
        std::string request, reply;
        run_proxy(config, [&](const std::string& address) {
            int client = connect_to(address);
            int accepted = accept(server, nullptr, nullptr);
            REQUIRE(accepted >= 0);
            REQUIRE(send(client, "ping", 4, MSG_NOSIGNAL) == 4);
            REQUIRE(shutdown(client, SHUT_WR) == 0);
            request = read_to_eof(accepted);
            REQUIRE(send(accepted, "pong", 4, MSG_NOSIGNAL) == 4);
            close(accepted);
            reply = read_to_eof(client);
            close(client);
        });
        close(server);
        CHECK(request == "ping");
        CHECK(reply == "pong");
    }

    TEST_CASE("clearing a live session resets the client and leaks no handle") {
        std::uint16_t port = 0;
        int server = listen_any(port);
        const rules::ProxyConfig config = loop_config("loop", port);
        int client = -1;
        int accepted = -1;
        run_proxy(config, [&](const std::string& address) {
            client = connect_to(address);
            accepted = accept(server, nullptr, nullptr);
            REQUIRE(accepted >= 0);
        });
        char byte;
        CHECK(recv(client, &byte, 1, 0) == -1);
        CHECK(errno == ECONNRESET);
        close(client);
        close(accepted);
        close(server);
    }
}

}  // namespace faultline::proxy
