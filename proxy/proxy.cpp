// Listening and accepting for one proxy.
#include "proxy/proxy.hpp"

#include "proxy/address.hpp"
#include "proxy/log.hpp"
#include "proxy/runtime.hpp"

namespace faultline::proxy {

Proxy::Proxy(Runtime& runtime, rules::ProxyConfig config)
    : runtime_(runtime), config_(std::move(config)) {}

Proxy::~Proxy() { stop_listening(); }

int Proxy::start() {
    sockaddr_storage address{};
    int err = to_sockaddr(config_.listen, address);
    if (err != 0) return err;
    listener_ = UvHandle<uv_tcp_t>(this);
    err = uv_tcp_init(runtime_.loop(), listener_.get());
    if (err != 0) return err;
    listener_.mark_initialised();
    err = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), 0);
    if (err == 0) err = uv_listen(listener_.stream(), SOMAXCONN, on_connection);
    if (err != 0) {
        listener_.close();
        return err;
    }
    bound_address_ = local_address(listener_.get());
    log_event(spdlog::level::info, {{"event", "listening"},
                                    {"kind", "proxy"},
                                    {"proxy", config_.name},
                                    {"address", bound_address_},
                                    {"upstream", config_.upstream.text()}});
    return 0;
}

void Proxy::stop_listening() {
    listener_.close();
    bound_address_.clear();
}

void Proxy::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Proxy*>(server->data);
    if (!self) return;
    if (status < 0) {
        self->record_accept_failure(status);
        return;
    }
    self->accept_one();
}

void Proxy::accept_one() {
    UvHandle<uv_tcp_t> client(nullptr);
    int err = uv_tcp_init(runtime_.loop(), client.get());
    if (err == 0) {
        client.mark_initialised();
        err = uv_accept(listener_.stream(), client.stream());
    }
    if (err != 0) {
        record_accept_failure(err);
        return;
    }
    if (is_accept_failing_) {
        is_accept_failing_ = false;
        log_event(spdlog::level::info,
                  {{"event", "accept_resumed"}, {"proxy", config_.name}});
    }
    runtime_.create_session(*this).start(std::move(client));
}

void Proxy::note_outcome(bool upstream_failed) {
    auto change = diagnosis_.record(uv_now(runtime_.loop()), upstream_failed);
    if (change == RefusalDiagnosis::Change::none) return;
    auto figures = diagnosis_.figures();
    bool started = change == RefusalDiagnosis::Change::started;
    log_event(started ? spdlog::level::warn : spdlog::level::info,
              {{"event", "diagnosis"},
               {"proxy", config_.name},
               {"diagnosis", started ? "upstream is refusing connections"
                                     : "upstream accepts connections again"},
               {"connects", figures.connects},
               {"upstream_resets", figures.upstream_failures},
               {"window_s", 60}});
}

// libuv has already closed what it could not accept (EMFILE: it frees a reserved descriptor,
// accepts and closes the waiting connections). Log once per episode, record what was dropped.
void Proxy::record_accept_failure(int status) {
    if (!is_accept_failing_) {
        is_accept_failing_ = true;
        log_event(spdlog::level::warn, {{"event", "accept_failed"},
                                        {"proxy", config_.name},
                                        {"error", uv_err_name(status)},
                                        {"message", uv_strerror(status)}});
    }
    TeardownRecord record;
    record.id = runtime_.allocate_id();
    record.proxy = config_.name;
    record.cause = {Reason::unknown, Initiator::faultline, uv_err_name(status), {}};
    record.inside = config_.settings.inside;
    record.client.state = EndpointState::error;
    record.server.address = config_.upstream.text();
    record.server.state = EndpointState::not_connected;
    runtime_.record(record);
}

}  // namespace faultline::proxy
