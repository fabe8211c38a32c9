// The start of a session: the client's checks (loop detection, allow and deny lists) and the
// upstream connect, with every address of a host name tried in turn.
#include <cstring>
#include <string>
#include <vector>

#include "proxy/address.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"

namespace faultline::proxy {

using teardown::EndpointState;
using teardown::Initiator;
using teardown::Reason;

void Session::start(UvHandle<uv_tcp_t> client, const sockaddr* peer) {
    client_.adopt(std::move(client));
    if (peer) {
        client_.history().address = address_text(*peer);
        std::memcpy(&client_sockaddr_, peer,
                    peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        has_client_sockaddr_ = true;
    }

    // A connection that comes from one of faultline's own upstream sockets, through a chain
    // that leads back to this proxy, would loop forever: refuse it and end the chain.
    auto reached = [this] { return client_reached(); };
    if (auto chain = runtime_.loop_chain(client_address(), reached, proxy_); !chain.empty()) {
        end_with_reset({Reason::syn_control, Initiator::faultline, {}, {}}, EndpointState::rst_sent,
                       EndpointState::not_connected);
        for (Session* s : chain)
            s->clear(Reason::syn_control);
        return;
    }
    // A client whose address is unknown (it reset before it was accepted) is not let through a
    // list either.
    const auto& config = proxy_.config();
    bool has_lists = !config.allow.empty() || !config.deny.empty();
    if (has_lists && (!peer || !rules::client_allowed(config.allow, config.deny, *peer))) {
        end_with_reset({Reason::uauth_deny, Initiator::faultline, {}, {}}, EndpointState::rst_sent,
                       EndpointState::not_connected);
        return;
    }
    connect_upstream();
    arm_timer();
}

std::string Session::client_reached() const {
    return client_.tcp() ? local_address(client_.tcp()) : std::string();
}

void Session::connect_upstream() {
    const auto& upstream = proxy_.config().upstream;
    sockaddr_storage address{};
    if (to_sockaddr(upstream, address) == 0) {
        connect_to(reinterpret_cast<const sockaddr&>(address));
        return;
    }
    // A host name: resolved for every connection, so a changed DNS answer takes effect.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(upstream.port);
    auto request = std::make_unique<Resolve>(this);
    Resolve* pending = request.get();
    int err = Resolve::submit(std::move(request), [&](uv_getaddrinfo_t* req) {
        return uv_getaddrinfo(runtime_.loop(), req, on_resolved, upstream.host.c_str(),
                              port.c_str(), &hints);
    });
    if (err != 0) {
        on_leg_connected(server_, err);
        return;
    }
    resolving_ = pending;
}

void Session::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
    auto request = Resolve::adopt(req);
    Session* self = request->payload();
    if (self) {
        self->resolving_ = nullptr;
        for (const addrinfo* ai = result; status == 0 && ai; ai = ai->ai_next) {
            if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
            sockaddr_storage address{};
            std::memcpy(&address, ai->ai_addr, ai->ai_addrlen);
            self->candidates_.push_back(address);
        }
        if (self->candidates_.empty()) {
            self->on_leg_connected(self->server_, status < 0 ? status : UV_EAI_NONAME);
        } else {
            self->connect_to(reinterpret_cast<const sockaddr&>(self->candidates_[0]));
        }
    }
    uv_freeaddrinfo(result);
}

// A lookup still running is told that its session is gone (its callback frees it).
void Session::stop_resolving() {
    if (!resolving_) return;
    resolving_->payload() = nullptr;
    (void)uv_cancel(reinterpret_cast<uv_req_t*>(resolving_->get()));
    resolving_ = nullptr;
}

void Session::connect_to(const sockaddr& address) {
    ++attempts_;
    if (int err = server_.connect(address); err != 0) {
        on_leg_connected(server_, err);
        return;
    }
    // connect() has already bound the local port: remember it before the SYN can come back.
    upstream_local_ = local_address(server_.tcp());
    if (!upstream_local_.empty()) {
        // What it is connected to is asked only when a connection comes from its local address:
        // by then the handshake is complete.
        runtime_.register_upstream(
            upstream_local_, [this] { return peer_address(server_.tcp()); }, *this);
    }
}

void Session::on_leg_connected(Leg&, int status) {
    if (state_ != State::connecting) return;
    if (status != 0 && attempts_ < candidates_.size()) {
        // The next address of the name, as a direct client would try it (localhost: ::1, then
        // 127.0.0.1).
        if (!upstream_local_.empty()) {
            runtime_.unregister_upstream(std::exchange(upstream_local_, {}), *this);
        }
        connect_to(reinterpret_cast<const sockaddr&>(candidates_[attempts_]));
        return;
    }
    if (status == 0) {
        proxy_.note_connected();
        server_.set_connected();
        state_ = State::open;
        note_activity();
        client_.start_reading();
        server_.start_reading();
        apply_rules(proxy_.config().rules);
        arm_timer();
        return;
    }
    if (status == UV_ECONNREFUSED) {
        server_.history().refused = true;
        end_with_reset({teardown::reset_reason(teardown::Side::server, settings().inside),
                        Initiator::server,
                        {},
                        {}},
                       EndpointState::rst_sent, EndpointState::refused);
    } else if (status == UV_ETIMEDOUT) {
        server_.history().connect_timed_out = true;
        end_with_reset({Reason::syn_timeout, Initiator::faultline, {}, {}}, EndpointState::rst_sent,
                       EndpointState::connect_timeout);
    } else {
        if (status == UV_EMFILE || status == UV_ENFILE) proxy_.pause_accepting(status);
        end_with_reset({Reason::unknown, Initiator::faultline, uv_err_name(status), {}},
                       EndpointState::rst_sent, EndpointState::error);
    }
}

}  // namespace faultline::proxy
