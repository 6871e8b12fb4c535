// Loading a rules file never crashes: it yields a config or throws config_error, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rules/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto cfg = wsproxy::rules::load_config_text(text, "fuzz.yaml");
        (void)cfg;
    } catch (const wsproxy::rules::config_error&) {
    }
    return 0;
}
