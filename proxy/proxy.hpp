// One configured proxy: its listener and the sessions it accepts.
#pragma once

#include <uv.h>

#include <string>

#include "proxy/diagnosis.hpp"
#include "proxy/uv_handle.hpp"
#include "rules/config.hpp"

namespace faultline::proxy {

class Runtime;

class Proxy {
public:
    Proxy(Runtime& runtime, rules::ProxyConfig config);
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;
    ~Proxy();

    // Binds and listens; returns a libuv error code. Logs a `listening` event on success.
    [[nodiscard]] int start();
    // Closes the listener; live sessions are left alone.
    void stop_listening();

    [[nodiscard]] const rules::ProxyConfig& config() const { return config_; }
    [[nodiscard]] const std::string& name() const { return config_.name; }
    // The bound address ("127.0.0.1:40123"), empty when not listening.
    [[nodiscard]] const std::string& listen_address() const { return bound_address_; }

    // A finished connection's outcome, for the refusal diagnosis: did the upstream reset or
    // refuse it?
    void note_outcome(bool upstream_failed);

private:
    static void on_connection(uv_stream_t* server, int status);
    void accept_one();
    void record_accept_failure(int status);

    Runtime& runtime_;
    rules::ProxyConfig config_;
    UvHandle<uv_tcp_t> listener_;
    std::string bound_address_;
    RefusalDiagnosis diagnosis_;
    bool is_accept_failing_ = false;  // logged once per episode of accept errors
};

}  // namespace faultline::proxy
