#pragma once
// The web viewer (proxy/admin/viewer/index.html), embedded at build time.
#include <string>

namespace wsproxy::admin {

const std::string& viewer_html();

}  // namespace wsproxy::admin
