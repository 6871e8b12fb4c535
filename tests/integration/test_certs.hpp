#pragma once
// A throwaway CA and a server certificate for "localhost" / 127.0.0.1, made
// with the openssl command in a fresh temporary folder, for TLS tests.
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace test_certs {

struct bundle {
    std::filesystem::path dir;
    std::string ca_cert, server_cert, server_key;  // file paths
    std::string other_ca_cert;                     // a CA that signed nothing we serve
};

inline bundle make() {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / ("wsproxy-certs-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(std::rand()));
    fs::create_directories(dir);
    std::string d = dir.string();
    std::string script =
        "set -e; cd '" + d + "';"
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=wsproxy test CA' "
        "  -keyout ca.key -out ca.pem 2>/dev/null;"
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' "
        "  -keyout other.key -out other.pem 2>/dev/null;"
        "openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key "
        "  -out server.csr 2>/dev/null;"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext;"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile san.ext -out server.pem 2>/dev/null";
    if (std::system(("bash -c \"" + script + "\"").c_str()) != 0)
        throw std::runtime_error("could not make test certificates with openssl in " + d);
    return {dir, d + "/ca.pem", d + "/server.pem", d + "/server.key", d + "/other.pem"};
}

}  // namespace test_certs
