// The one translation unit that compiles Asio, its SSL layer and Beast
// (separate compilation, see common/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
