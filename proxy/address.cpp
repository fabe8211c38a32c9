// Address formatting and conversion.
#include "proxy/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

namespace faultline::proxy {

std::string address_text(const sockaddr& address) {
    char host[INET6_ADDRSTRLEN] = {};
    if (address.sa_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
        inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
        return fmt::format("{}:{}", host, ntohs(v4.sin_port));
    }
    if (address.sa_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
        inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
        return fmt::format("[{}]:{}", host, ntohs(v6.sin6_port));
    }
    return {};
}

std::string local_address(const uv_tcp_t* tcp) {
    sockaddr_storage storage{};
    int length = sizeof storage;
    if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
    return address_text(reinterpret_cast<const sockaddr&>(storage));
}

namespace {

std::size_t queued_bytes(const uv_tcp_t* tcp, unsigned long request) {
    uv_os_fd_t fd = -1;
    if (tcp == nullptr || uv_fileno(reinterpret_cast<const uv_handle_t*>(tcp), &fd) != 0) return 0;
    int value = 0;
    if (ioctl(fd, request, &value) != 0) return 0;
    return value > 0 ? static_cast<std::size_t>(value) : 0;
}

}  // namespace

std::size_t unread_bytes(const uv_tcp_t* tcp) {
    return queued_bytes(tcp, SIOCINQ);
}

std::size_t unsent_bytes(const uv_tcp_t* tcp) {
    return queued_bytes(tcp, SIOCOUTQ);
}

std::string peer_address(const uv_tcp_t* tcp) {
    sockaddr_storage storage{};
    int length = sizeof storage;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
    return address_text(reinterpret_cast<const sockaddr&>(storage));
}

int to_sockaddr(const rules::Endpoint& endpoint, sockaddr_storage& out) {
    out = {};
    if (uv_ip4_addr(endpoint.host.c_str(), endpoint.port, reinterpret_cast<sockaddr_in*>(&out)) ==
        0) {
        return 0;
    }
    return uv_ip6_addr(endpoint.host.c_str(), endpoint.port, reinterpret_cast<sockaddr_in6*>(&out));
}

}  // namespace faultline::proxy
