// The control API's routes: Toxiproxy's v2 API (proxies and their toxics, which are faultline's
// rules; populate, reset, version) and faultline's extensions (connections, events, metrics,
// health, the configuration as TOML, the fault types, the dashboard). Every change is a new
// configuration handed to ControlPlane::apply, the path a reloaded file takes, so rules created
// here act on live connections exactly as rules from the file do.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "control/control_plane.hpp"
#include "control/events.hpp"
#include "control/http.hpp"
#include "control/router.hpp"

namespace faultline::control {

class Api {
  public:
    Api(ControlPlane& plane, const EventLog& events);

    [[nodiscard]] HttpResponse handle(const HttpRequest& request);

  private:
    // One handler per route; the table is in api.cpp.
    HttpResponse dashboard(const RoutedRequest& request);
    HttpResponse fault_types(const RoutedRequest& request);
    HttpResponse version(const RoutedRequest& request);
    HttpResponse health(const RoutedRequest& request);
    HttpResponse reset(const RoutedRequest& request);
    HttpResponse populate(const RoutedRequest& request);
    HttpResponse list_connections(const RoutedRequest& request);
    HttpResponse kill_connection(const RoutedRequest& request);
    HttpResponse events(const RoutedRequest& request);
    HttpResponse config_toml(const RoutedRequest& request);
    HttpResponse metrics(const RoutedRequest& request);
    HttpResponse list_proxies(const RoutedRequest& request);
    HttpResponse create_proxy(const RoutedRequest& request);
    HttpResponse get_proxy(const RoutedRequest& request);
    HttpResponse update_proxy(const RoutedRequest& request);
    HttpResponse delete_proxy(const RoutedRequest& request);
    HttpResponse list_toxics(const RoutedRequest& request);
    HttpResponse create_toxic(const RoutedRequest& request);
    HttpResponse get_toxic(const RoutedRequest& request);
    HttpResponse update_toxic(const RoutedRequest& request);
    HttpResponse delete_toxic(const RoutedRequest& request);

    // A proxy as Toxiproxy shows it: name, listen, upstream, enabled, toxics. `bound` is the
    // address it listens on (empty when it does not); the first form asks the plane for it.
    [[nodiscard]] nlohmann::ordered_json proxy_json(const rules::ProxyConfig& proxy) const;
    [[nodiscard]] nlohmann::ordered_json proxy_json(const rules::ProxyConfig& proxy,
                                                    const std::string& bound) const;
    // Keeps the `listen` string of an API body, shown until the proxy has a bound address.
    void remember_listen(const nlohmann::json& body, const rules::ProxyConfig& proxy);
    // Applies a copy of the configuration in which one proxy's rules were changed by `change`
    // (which answers the request); the change is applied only when the answer is a success.
    template <typename Change>
    HttpResponse change_toxics(const RoutedRequest& request, Change change);

    ControlPlane& plane_;
    const EventLog& events_;
    Router<Api> router_;
    // By proxy name: the listen address as an API client wrote it ("localhost:0"), with its
    // parsed form, for a proxy that has not listened (Toxiproxy echoes the string).
    std::map<std::string, std::pair<rules::Endpoint, std::string>> listen_as_given_;
};

}  // namespace faultline::control
