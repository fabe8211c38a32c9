// Socket addresses as text ("127.0.0.1:5432", "[::1]:8474"), configured endpoints as socket
// addresses, and what the kernel holds in a TCP handle's queues.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <string>

#include "rules/endpoint.hpp"

namespace faultline::proxy {

[[nodiscard]] std::string address_text(const sockaddr& address);
// The local or the peer address of a TCP handle; empty when the call fails.
[[nodiscard]] std::string local_address(const uv_tcp_t* tcp);
[[nodiscard]] std::string peer_address(const uv_tcp_t* tcp);
// Bytes the kernel holds for a TCP handle: received and not read yet, or written and not sent
// yet. 0 when the call fails.
[[nodiscard]] std::size_t unread_bytes(const uv_tcp_t* tcp);
[[nodiscard]] std::size_t unsent_bytes(const uv_tcp_t* tcp);
// For IP-literal hosts only; returns a libuv error code.
[[nodiscard]] int to_sockaddr(const rules::Endpoint& endpoint, sockaddr_storage& out);

}  // namespace faultline::proxy
