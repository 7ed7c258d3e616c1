#include "tls/client_fingerprint.h"

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include "lab/interceptor.h"
#include "sentinel/client_registry.h"
#include "support/client_hello_builder.h"

namespace mitmscope {
namespace {

ClientHello parsed(const std::vector<uint8_t>& bytes) {
  auto hello = parse_client_hello(bytes);
  EXPECT_TRUE(hello) << (hello ? "" : hello.error().message);
  return hello ? *hello : ClientHello{};
}

// browserleaks.com's record of Chrome 143: every form of JA3 and JA4 it lists.
TEST(ClientFingerprint, Chrome143AsRecordedByBrowserleaks) {
  const ClientHello hello = parsed(testing::client_hello_bytes(testing::chrome_143()));
  EXPECT_TRUE(hello.complete);
  EXPECT_EQ(hello.server_name, "tls.browserleaks.com");
  const Ja3 three = ja3(hello);
  EXPECT_EQ(three.text,
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
            "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0");
  EXPECT_EQ(three.hash, "98487aa16281980e7d1120d399efb6a4");
  const Ja4 four = ja4(hello);
  EXPECT_EQ(four.fingerprint, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
  EXPECT_EQ(four.raw,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,"
            "0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601");
  EXPECT_EQ(four.original, "t13d1516h2_acb858a92679_f96a17c57971");
  EXPECT_EQ(four.raw_original,
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_002d,0033,0010,fe0d,0017,"
            "44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b_0403,0804,0401,0503,0805,0501,0806,0601");
}

// The worked example of FoxIO's JA4 specification (technical_details/JA4.md).
TEST(ClientFingerprint, Ja4SpecificationExample) {
  testing::HelloSpec spec;
  spec.ciphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  for (uint16_t type : {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b,
                        0x000a, 0x0015}) {
    std::vector<uint8_t> body;
    if (type == 0x0000) body = testing::sni_body("example.com");
    if (type == 0x0010) body = testing::alpn_body({"h2", "http/1.1"});
    if (type == 0x000d) body = testing::u16_list_body({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601});
    if (type == 0x002b) body = testing::u16_list_body({0x0304, 0x0303}, true);
    spec.extensions.push_back({static_cast<uint16_t>(type), body});
  }
  const Ja4 four = ja4(parsed(testing::client_hello_bytes(spec)));
  EXPECT_EQ(four.fingerprint, "t13d1516h2_8daaf6152771_e5627efa2ab1");
  // Without signature algorithms the list is hashed without the underscore.
  std::erase_if(spec.extensions, [](const auto& extension) { return extension.first == 0x000d; });
  spec.extensions.push_back({0x000d, {}});   // present but empty keeps the count at 16
  EXPECT_EQ(ja4(parsed(testing::client_hello_bytes(spec))).fingerprint, "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

TEST(ClientFingerprint, EdgeCasesOfTheHeader) {
  testing::HelloSpec spec;
  spec.legacy_version = 0x0301;
  spec.extensions = {{0x0010, testing::alpn_body({"\xab\xcd"})}};
  const Ja4 four = ja4(parsed(testing::client_hello_bytes(spec)));
  // TLS 1.0, no SNI, no ciphers, one extension, a non-alphanumeric ALPN in hex; empty lists hash to zeros.
  EXPECT_EQ(four.fingerprint, "t10i0001ad_000000000000_000000000000");
  spec.extensions = {{0x0010, testing::alpn_body({"x"})}};
  EXPECT_EQ(ja4(parsed(testing::client_hello_bytes(spec))).fingerprint.substr(0, 10), "t10i0001xx");
}

TEST(ClientHelloExtent, TellsAReassemblerWhenToStop) {
  const auto whole = testing::client_hello_bytes(testing::chrome_143(), 100);   // many small records
  for (size_t cut : {size_t(0), size_t(3), size_t(5), size_t(7), size_t(104), whole.size() - 1}) {
    EXPECT_EQ(client_hello_extent(std::span(whole).first(cut)).progress, ClientHelloProgress::kNeedMore) << cut;
  }
  const auto extent = client_hello_extent(whole);
  EXPECT_EQ(extent.progress, ClientHelloProgress::kComplete);
  EXPECT_EQ(extent.bytes, whole.size());
  EXPECT_EQ(ja4(parsed(whole)).fingerprint, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
  const std::vector<uint8_t> http = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'};
  EXPECT_EQ(client_hello_extent(http).progress, ClientHelloProgress::kNotTls);
  const std::vector<uint8_t> server_hello = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
  EXPECT_EQ(client_hello_extent(server_hello).progress, ClientHelloProgress::kNotTls);
  const std::vector<uint8_t> huge = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff};
  EXPECT_EQ(client_hello_extent(huge).progress, ClientHelloProgress::kTooLarge);
}

// The lab interceptor's own ClientHello, made by the very code the lab runs, must be the registry's entry:
// when OpenSSL or the lab changes it, this fails and says what to write into data/fingerprints/.
TEST(ClientFingerprint, LabInterceptorIsInTheRegistry) {
  auto context = lab::upstream_client_context();
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), &SSL_free);
  BIO* input = BIO_new(BIO_s_mem());
  BIO* output = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), input, output);
  SSL_set_tlsext_host_name(ssl.get(), "facebook.com");
  ASSERT_EQ(SSL_connect(ssl.get()), -1);   // wants the ServerHello
  char* data = nullptr;
  const long length = BIO_get_mem_data(output, &data);
  const ClientHello hello = parsed(std::vector<uint8_t>(data, data + length));
  const Ja3 three = ja3(hello);
  const Ja4 four = ja4(hello);
  EXPECT_EQ(hello.record_version, 0x0301);
  EXPECT_EQ(highest_offered_version(hello), 0x0303);
  EXPECT_EQ(shape_of(hello).cipher_suites, 13u);
  auto registry = ClientRegistry::builtin();
  ASSERT_TRUE(registry) << registry.error().message;
  const auto entry = std::ranges::find(registry->interceptors(), std::string("mitmscope-lab-kz-2019"), &InterceptorFingerprint::id);
  ASSERT_NE(entry, registry->interceptors().end());
  EXPECT_EQ(entry->ja4, four.fingerprint) << "ja4_r " << four.raw;
  EXPECT_EQ(entry->ja3, three.hash) << "ja3 text " << three.text;
  const auto match = registry->match(hello, three, four);
  ASSERT_TRUE(match);
  EXPECT_EQ(match->entry->id, "mitmscope-lab-kz-2019");
  EXPECT_EQ(match->method, "ja4");
}

}  // namespace
}  // namespace mitmscope
