// Frame classification: strict JSON validation and field extraction along object keys.
#include <catch2/catch.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "rules/classify.hpp"

using namespace wsproxy::rules;

namespace {

// Classifies a copy of `s`; both live until the end of the test run, so that the views
// in the result stay valid wherever a test keeps it.
const frame_info& run(const std::string& s, const config& cfg = {}, bool text = true) {
    static std::deque<std::pair<std::string, frame_info>> kept;
    auto& [payload, fi] = kept.emplace_back(s, frame_info{});
    classify(cfg, payload, text, fi);
    return fi;
}

frame_kind kind(const std::string& s) { return run(s).kind; }

}  // namespace

TEST_CASE("a protocol frame yields its type, chat_id, success and type slot", "[classify]") {
    const std::string s =
        R"({"type":"chat_joined","data":{"chat_id":"abc","success":false,"error":"nope"},"chat_id":"top"})";
    frame_info fi;
    classify(config{}, s, true, fi);
    CHECK(fi.kind == frame_kind::object);
    CHECK(fi.type == "chat_joined");
    CHECK(fi.type_slot == 4);
    CHECK(fi.chat_id == "abc");
    CHECK(fi.success == 0);
    CHECK(fi.error == "nope");
    CHECK(fi.client_id.empty());
    CHECK(fi.client_id_path == -1);
    // Unescaped strings are views into the payload: no copy.
    CHECK(fi.type.data() >= s.data());
    CHECK(fi.type.data() < s.data() + s.size());
}

TEST_CASE("the first configured path that holds a string wins", "[classify]") {
    CHECK(run(R"({"chat_id":"top","data":{"chat_id":"inner"}})").chat_id == "inner");
    CHECK(run(R"({"chat_id":"top","data":{"chat_id":null}})").chat_id == "top");
    CHECK(run(R"({"chat_id":"top","data":{"chat_id":7}})").chat_id == "top");
    CHECK(run(R"({"chat_id":"top"})").chat_id == "top");
    const auto& fi = run(R"({"client_id":"t","data":{"client_id":"d"}})");
    CHECK(fi.client_id == "d");
    CHECK(fi.client_id_path == 0);
    CHECK(fi.client_id_found == 3);
    const auto& top = run(R"({"client_id":"t"})");
    CHECK(top.client_id_path == 1);
    CHECK(top.client_id_found == 2);
}

TEST_CASE("success absent, true, false and non-boolean", "[classify]") {
    CHECK(run(R"({"data":{}})").success == -1);
    CHECK(run(R"({"data":{"success":true}})").success == 1);
    CHECK(run(R"({"data":{"success":false}})").success == 0);
    CHECK(run(R"({"data":{"success":"true"}})").success == -1);
    CHECK(run(R"({"data":{"success":null}})").success == -1);
    CHECK(run(R"({"success":true})").success == -1);
}

TEST_CASE("the same key names at other depths or inside arrays do not match", "[classify]") {
    const auto& fi = run(
        R"({"x":{"type":"no","data":{"chat_id":"no"}},"data":[{"chat_id":"no"}],)"
        R"("list":[{"type":"no"}],"data2":{"data":{"chat_id":"no"}},"type":"ping"})");
    CHECK(fi.kind == frame_kind::object);
    CHECK(fi.type == "ping");
    CHECK(fi.chat_id.empty());
    CHECK(run(R"({"data":{"x":{"chat_id":"deep"}}})").chat_id.empty());
    CHECK(run(R"([{"type":"ping"}])").type.empty());
}

TEST_CASE("duplicate keys: the first occurrence wins", "[classify]") {
    CHECK(run(R"({"type":"a","type":"b"})").type == "a");
    CHECK(run(R"({"data":{"chat_id":"a"},"data":{"chat_id":"b"}})").chat_id == "a");
    // A first occurrence that is not a string still wins: the path has no string.
    CHECK(run(R"({"type":1,"type":"b"})").type.empty());
}

TEST_CASE("a type outside message_types has slot -1", "[classify]") {
    const std::string s = R"({"type":"brand_new"})";
    frame_info fi;
    classify(config{}, s, true, fi);
    CHECK(fi.type == "brand_new");
    CHECK(fi.type_slot == -1);
    CHECK(run(R"({"type":"error"})").type_slot == 15);
}

TEST_CASE("whitespace is allowed everywhere JSON allows it", "[classify]") {
    const auto& fi = run(" \t\r\n{ \"type\" :\n\"ping\" , \"data\" : { \"chat_id\" : \"c\" } } \n");
    CHECK(fi.kind == frame_kind::object);
    CHECK(fi.type == "ping");
    CHECK(fi.chat_id == "c");
    CHECK(kind("{}") == frame_kind::object);
    CHECK(kind(" { } ") == frame_kind::object);
    CHECK(kind("[ ]") == frame_kind::not_object);
    CHECK(kind("\f{}") == frame_kind::invalid);
    CHECK(kind("\xC2\xA0{}") == frame_kind::invalid);  // no-break space is not JSON whitespace
}

TEST_CASE("numbers follow the JSON grammar", "[classify]") {
    for (const char* ok : {"0", "-0", "1", "-12", "1.5", "-0.25", "1e5", "1E+5", "2e-3", "10.01e10",
                           "123456789012345678901234567890"}) {
        INFO(ok);
        CHECK(kind(std::string(R"({"n":)") + ok + "}") == frame_kind::object);
        CHECK(kind(ok) == frame_kind::not_object);
    }
    for (const char* bad : {"01", "-", "+1", "1.", ".5", "1e", "1e+", "0x1", "NaN", "Infinity", "1..2",
                            "--1", "1 2"}) {
        INFO(bad);
        CHECK(kind(std::string(R"({"n":)") + bad + "}") == frame_kind::invalid);
        CHECK(kind(bad) == frame_kind::invalid);
    }
}

TEST_CASE("literals, commas and brackets are strict", "[classify]") {
    CHECK(kind(R"({"a":true,"b":false,"c":null,"d":[1,{"e":[]}]})") == frame_kind::object);
    CHECK(kind("true") == frame_kind::not_object);
    CHECK(kind("null") == frame_kind::not_object);
    CHECK(kind(R"("str")") == frame_kind::not_object);
    for (const char* bad : {"", " ", "{", "}", "{]", "[}", R"({"a":1,})", "[1,]", R"({"a" 1})",
                            R"({a:1})", R"({'a':1})", R"({"a":tru})", R"({"a":True})", R"({"a":nul})",
                            R"({"a":1}{})", R"({"a":1}x)", R"({,})", "[,1]", R"({"a":1 "b":2})",
                            R"({"a"})", R"({"a":})"}) {
        INFO(bad);
        CHECK(kind(bad) == frame_kind::invalid);
    }
}

TEST_CASE("string escapes are validated and decoded", "[classify]") {
    const auto& fi = run(R"({"type":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"})");
    REQUIRE(fi.kind == frame_kind::object);
    CHECK(fi.type == "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    CHECK(run(R"({"type":"\u0000"})").type == std::string("\0", 1));
    for (const char* bad : {R"({"a":"\x"})", R"({"a":"\u12"})", R"({"a":"\u12g4"})",
                            R"({"a":"\ud83d"})", R"({"a":"\ud83dx"})", R"({"a":"\ude00"})",
                            R"({"a":"\ud83d\u0041"})", R"({"a":"\"})", "{\"a\":\"tab\there\"}",
                            "{\"a\":\"nl\nhere\"}"}) {
        INFO(bad);
        CHECK(kind(bad) == frame_kind::invalid);
    }
}

TEST_CASE("several escaped strings decode into scratch without invalidating each other",
          "[classify]") {
    const std::string s =
        R"({"type":"t\u0031","data":{"chat_id":"c\u0032","client_id":"k\u0033","error":"e\u0034"}})";
    frame_info fi;
    classify(config{}, s, true, fi);
    CHECK(fi.type == "t1");
    CHECK(fi.chat_id == "c2");
    CHECK(fi.client_id == "k3");
    CHECK(fi.error == "e4");
    // Keys with escapes match too, and are not kept.
    CHECK(run(R"({"\u0074ype":"ping","d\u0061ta":{"chat\u005fid":"x\ty"}})").chat_id == "x\ty");
    CHECK(run(R"({"\u0074ype":"ping","d\u0061ta":{"chat\u005fid":"x\u0041y"}})").chat_id == "xAy");
    CHECK(run(R"({"\u0074ype":"ping"})").type == "ping");
    // Reusing one frame_info: views follow the latest frame.
    classify(config{}, R"({"type":"p\u0032"})", true, fi);
    CHECK(fi.type == "p2");
    CHECK(fi.chat_id.empty());
}

TEST_CASE("invalid UTF-8 inside strings makes the frame invalid", "[classify]") {
    CHECK(kind("{\"a\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"}") == frame_kind::object);
    for (const char* bad : {"\x80", "\xC0\xAF", "\xC1\xBF", "\xC3", "\xE0\x80\xAF", "\xED\xA0\x80",
                            "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF",
                            "\xE2\x82", "\xF0\x9F\x98"}) {
        INFO(nlohmann::json(std::string(bad)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
        CHECK(kind(std::string("{\"a\":\"") + bad + "\"}") == frame_kind::invalid);
        CHECK(kind(std::string("{\"") + bad + "\":1}") == frame_kind::invalid);
    }
    CHECK(kind("{\"a\":1}\xC3\xA9") == frame_kind::invalid);
}

TEST_CASE("nesting is bounded by max_depth without recursion", "[classify]") {
    config cfg;
    cfg.max_depth = 3;
    CHECK(run("[[[]]]", cfg).kind == frame_kind::not_object);
    CHECK(run("[[[[]]]]", cfg).kind == frame_kind::too_deep);
    CHECK(run(R"({"a":{"b":{}}})", cfg).kind == frame_kind::object);
    CHECK(run(R"({"a":{"b":{"c":{}}}})", cfg).kind == frame_kind::too_deep);

    // 100 000 nested '[' stop at level 65 (no recursion, nothing scanned past it).
    const std::string deep(100'000, '[');
    CHECK(run(deep).kind == frame_kind::too_deep);
    // Exactly max_depth levels are fine.
    std::string ok = std::string(64, '[') + std::string(64, ']');
    CHECK(run(ok).kind == frame_kind::not_object);
    CHECK(run("[" + ok + "]").kind == frame_kind::too_deep);
    // Depth beyond the hard limit is clamped to it.
    cfg.max_depth = 1'000'000;
    const std::string nested = std::string(2000, '[') + std::string(2000, ']');
    CHECK(run(nested, cfg).kind == frame_kind::too_deep);
    const std::string fine = std::string(1000, '[') + std::string(1000, ']');
    CHECK(run(fine, cfg).kind == frame_kind::not_object);
}

TEST_CASE("an object nested deeply still closes back to the right key masks", "[classify]") {
    std::string s = R"({"a":)" + std::string(40, '[') + R"({"type":"x"})" + std::string(40, ']') +
                    R"(,"data":{"q":{"r":{}},"chat_id":"c"},"type":"t"})";
    const auto& fi = run(s);
    CHECK(fi.kind == frame_kind::object);
    CHECK(fi.type == "t");
    CHECK(fi.chat_id == "c");
}

TEST_CASE("too large and binary frames are not scanned", "[classify]") {
    config cfg;
    cfg.max_inspect_bytes = 10;
    CHECK(run(R"({"a":1})", cfg).kind == frame_kind::object);
    CHECK(run(R"({"type":"ping"})", cfg).kind == frame_kind::too_large);
    const auto& bin = run(R"({"type":"ping"})", {}, false);
    CHECK(bin.kind == frame_kind::binary);
    CHECK(bin.type.empty());
}

TEST_CASE("configured paths of any depth are followed", "[classify]") {
    config cfg;
    cfg.type_path = {"meta", "kind"};
    cfg.chat_id_paths = {{"payload", "room", "id"}, {"room"}};
    cfg.message_types = {"subscribe", "subscribed"};
    const auto& fi = run(R"({"meta":{"kind":"subscribed"},"payload":{"room":{"id":"r1"}}})", cfg);
    CHECK(fi.type == "subscribed");
    CHECK(fi.type_slot == 1);
    CHECK(fi.chat_id == "r1");
    CHECK(run(R"({"type":"x","room":"r2"})", cfg).chat_id == "r2");
    CHECK(run(R"({"type":"x","room":"r2"})", cfg).type.empty());
}

TEST_CASE("random mutations of a frame never disagree with nlohmann on validity", "[classify]") {
    const std::string base =
        R"({"type":"send_message","data":{"chat_id":"a\u00e9","n":[1,-2.5e3,true,null,{}]}})";
    std::uint32_t seed = 12345;
    const auto rnd = [&seed] { return seed = seed * 1103515245 + 12345, (seed >> 8); };
    const std::string alphabet = "{}[]\":,\\u0123456789eE+-.tfnrl aA\x80\xC3\xA9";
    for (int i = 0; i < 20000; ++i) {
        std::string s = base;
        const int edits = 1 + static_cast<int>(rnd() % 3);
        for (int e = 0; e < edits; ++e) {
            const std::size_t pos = rnd() % (s.size() + 1);
            const char c = alphabet[rnd() % alphabet.size()];
            switch (rnd() % 3) {
                case 0: s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c); break;
                case 1: if (pos < s.size()) s.erase(pos, 1); break;
                default: if (pos < s.size()) s[pos] = c; break;
            }
        }
        const bool theirs = nlohmann::json::accept(s);
        const frame_kind k = run(s).kind;
        const bool ours = k == frame_kind::object || k == frame_kind::not_object;
        INFO(s);
        REQUIRE(ours == theirs);
    }
}
