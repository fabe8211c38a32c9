// HTTP/1.1 request parsing and response serialisation.
#include "proxy/http.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace faultline::proxy {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return c > 32 && c < 127 && c != '(' && c != ')' && c != ',' && c != '/' && c != ':' &&
               c != ';' && c != '<' && c != '=' && c != '>' && c != '?' && c != '@' && c != '[' &&
               c != '\\' && c != ']' && c != '{' && c != '}' && c != '"';
    });
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) return value;
    }
    return {};
}

std::string_view status_text(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

HttpResponse error_response(int status, std::string_view message) {
    nlohmann::ordered_json body{{"error", message}, {"status", status}};
    return {status, body.dump(), "application/json", {}};
}

std::string serialize(const HttpResponse& response, bool keep_alive) {
    std::string out =
        fmt::format("HTTP/1.1 {} {}\r\n", response.status, status_text(response.status));
    if (response.is_stream) {
        out += fmt::format("Content-Type: {}\r\n", response.content_type);
    } else if (response.status != 204) {
        out += fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", response.content_type,
                           response.body.size());
    }
    for (const auto& [name, value] : response.headers)
        out += fmt::format("{}: {}\r\n", name, value);
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (response.status != 204) out += response.body;
    return out;
}

HttpParser::State HttpParser::feed(std::string_view input) {
    if (state_ == State::failed) return state_;
    buffer_.append(input);
    if (state_ == State::complete) return state_;
    return parse();
}

HttpRequest HttpParser::take() {
    HttpRequest request = std::move(request_);
    buffer_.erase(0, head_length_ + body_length_);
    request_ = {};
    head_length_ = 0;
    body_length_ = 0;
    state_ = State::incomplete;
    if (!buffer_.empty()) parse();
    return request;
}

HttpParser::State HttpParser::fail(int status, std::string message) {
    error_status_ = status;
    error_message_ = std::move(message);
    return state_ = State::failed;
}

HttpParser::State HttpParser::parse() {
    if (head_length_ == 0) {
        auto end = buffer_.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (buffer_.size() > max_header_bytes) return fail(431, "request header too large");
            return state_ = State::incomplete;
        }
        if (end + 4 > max_header_bytes) return fail(431, "request header too large");
        if (!parse_head(std::string_view(buffer_).substr(0, end))) return state_;
        head_length_ = end + 4;
    }
    if (buffer_.size() < head_length_ + body_length_) return state_ = State::incomplete;
    request_.body = buffer_.substr(head_length_, body_length_);
    return state_ = State::complete;
}

bool HttpParser::parse_head(std::string_view head) {
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto first = line.find(' ');
    auto last = line.rfind(' ');
    if (first == std::string_view::npos || first == last) {
        fail(400, "malformed request line");
        return false;
    }
    std::string_view method = line.substr(0, first);
    std::string_view target = line.substr(first + 1, last - first - 1);
    std::string_view version = line.substr(last + 1);
    if (!is_token(method) || target.empty() || target.front() != '/') {
        fail(400, "malformed request line");
        return false;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        fail(505, "unsupported HTTP version");
        return false;
    }
    request_.method = std::string(method);
    auto question = target.find('?');
    request_.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos)
        request_.query = std::string(target.substr(question + 1));
    request_.keep_alive = version == "HTTP/1.1";

    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    bool has_length = false;
    while (!rest.empty()) {
        auto end = rest.find("\r\n");
        std::string_view field = rest.substr(0, end);
        rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
        auto colon = field.find(':');
        if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
            fail(400, "malformed header line");
            return false;
        }
        std::string name = lower(field.substr(0, colon));
        std::string value(trim(field.substr(colon + 1)));
        if (name == "content-length") {
            std::size_t length = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (ec != std::errc() || ptr != value.data() + value.size() ||
                (has_length && length != body_length_)) {
                fail(400, "invalid Content-Length");
                return false;
            }
            if (length > max_body_bytes) {
                fail(413, "request body too large");
                return false;
            }
            has_length = true;
            body_length_ = length;
        } else if (name == "transfer-encoding") {
            fail(501, "chunked request bodies are not supported; send Content-Length");
            return false;
        } else if (name == "connection") {
            std::string token = lower(value);
            if (token == "close") request_.keep_alive = false;
            if (token == "keep-alive") request_.keep_alive = true;
        }
        request_.headers.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

}  // namespace faultline::proxy
