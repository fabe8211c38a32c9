// Socket addresses as text ("127.0.0.1:5432", "[::1]:8474") and configured endpoints as socket
// addresses.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <string>

#include "rules/endpoint.hpp"

namespace faultline::proxy {

[[nodiscard]] std::string address_text(const sockaddr& address);
// The local or the peer address of a TCP handle; empty when the call fails.
[[nodiscard]] std::string local_address(const uv_tcp_t* tcp);
[[nodiscard]] std::string peer_address(const uv_tcp_t* tcp);
// For IP-literal hosts only; returns a libuv error code.
[[nodiscard]] int to_sockaddr(const rules::Endpoint& endpoint, sockaddr_storage& out);

}  // namespace faultline::proxy
