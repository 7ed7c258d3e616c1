#include "ooni/measurement.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace mitmscope::ooni {
namespace {

std::string sample(const std::string& name) {
  std::ifstream file(std::string(MITMSCOPE_TEST_DATA) + "/ooni-samples/" + name, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The reader wants readable padding after the document.
Result<void> read(MeasurementReader& reader, const std::string& json, MeasurementFacts& facts) {
  std::string padded = json + std::string(MeasurementReader::kPadding, ' ');
  auto result = reader.read(padded.data(), json.size(), padded.size(), facts);
  return result;
}

TEST(MeasurementReader, ItalianFullChains) {
  MeasurementReader reader;
  MeasurementFacts facts;
  // Kept alive: the facts are views into the parser's buffers and this text.
  const std::string json = sample("real_IT_AS30722_webconnectivity-0.5.28_2024-01-23_csmonitor.com_fullchains.json");
  ASSERT_TRUE(read(reader, json, facts));
  EXPECT_EQ(facts.probe_cc, "IT");
  EXPECT_EQ(facts.probe_asn, 30722u);
  EXPECT_EQ(facts.test_name, "web_connectivity");
  EXPECT_EQ(facts.measurement_start_time.substr(0, 10), "2024-01-23");
  ASSERT_EQ(facts.handshakes.size(), 12u);
  for (const auto& handshake : facts.handshakes) {
    EXPECT_EQ(handshake.certificate_count, 4u);
    EXPECT_TRUE(handshake.failure.empty());
    EXPECT_EQ(handshake.server_name, "www.csmonitor.com");
    EXPECT_FALSE(handshake.address.empty());
  }
  EXPECT_EQ(facts.certificates.size(), 48u);
  EXPECT_TRUE(facts.has_control);
  EXPECT_EQ(facts.control_tls.size(), 36u);  // the test helper tried every address it resolved
  EXPECT_TRUE(facts.control_tls[0].status);
  EXPECT_FALSE(facts.control_addresses.empty());
  EXPECT_EQ(facts.dns_consistency, "consistent");
}

TEST(MeasurementReader, SignalAndIranAndTheQaSample) {
  MeasurementReader reader;
  MeasurementFacts facts;
  const std::string signal = sample("real_AM_AS44395_signal_2022-10-27_ssl_unknown_authority.json");
  ASSERT_TRUE(read(reader, signal, facts));
  EXPECT_EQ(facts.test_name, "signal");
  EXPECT_TRUE(facts.input.empty());           // null
  EXPECT_EQ(facts.handshakes.size(), 6u);
  EXPECT_EQ(facts.handshakes[0].failure, "ssl_unknown_authority");
  EXPECT_TRUE(facts.handshakes[0].address.empty());  // the signal test does not record it
  EXPECT_FALSE(facts.has_control);

  const std::string iran = sample("real_IR_AS197207_webconnectivity_2022-08-15_yooz.ir_ssl_invalid_certificate.json");
  ASSERT_TRUE(read(reader, iran, facts));
  ASSERT_EQ(facts.handshakes.size(), 1u);
  EXPECT_EQ(facts.handshakes[0].address, "195.146.37.25:443");
  EXPECT_EQ(facts.handshakes[0].certificate_count, 1u);
  ASSERT_TRUE(facts.control_http_ok.has_value());
  EXPECT_FALSE(*facts.control_http_ok);
  ASSERT_EQ(facts.dns_answers.size(), 1u);
  EXPECT_EQ(facts.dns_answers[0].hostname, "yooz.ir");
  EXPECT_EQ(facts.dns_answers[0].address, "195.146.37.25");

  const std::string qa = sample("QA-SYNTHETIC_webconnectivity-0.5_badSSLWithUnknownAuthorityWithConsistentDNS.json");
  ASSERT_TRUE(read(reader, qa, facts));
  ASSERT_EQ(facts.handshakes.size(), 1u);
  EXPECT_EQ(facts.handshakes[0].certificate_count, 0u);  // peer_certificates: null
  ASSERT_EQ(facts.control_tls.size(), 1u);
  EXPECT_FALSE(facts.control_tls[0].status);
  EXPECT_EQ(facts.control_tls[0].failure, "ssl_unknown_authority");
}

TEST(MeasurementReader, ErrorsNameTheField) {
  MeasurementReader reader;
  MeasurementFacts facts;
  auto wrong_time = read(reader, R"({"measurement_start_time": 12})", facts);
  ASSERT_FALSE(wrong_time);
  EXPECT_NE(wrong_time.error().message.find("measurement_start_time"), std::string::npos) << wrong_time.error().message;
  auto bad_time = read(reader, R"({"measurement_start_time": "yesterday"})", facts);
  ASSERT_FALSE(bad_time);
  EXPECT_NE(bad_time.error().message.find("not a time"), std::string::npos);
  auto missing = read(reader, R"({"probe_cc": "KZ"})", facts);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing"), std::string::npos);
  auto certificate = read(reader,
                          R"({"measurement_start_time": "2022-01-01 00:00:00", "test_keys": {"tls_handshakes": [{"peer_certificates": [{"data": 5}]}]}})",
                          facts);
  ASSERT_FALSE(certificate);
  EXPECT_NE(certificate.error().message.find("peer_certificates[].data"), std::string::npos) << certificate.error().message;
  auto array = read(reader, R"([1, 2])", facts);
  ASSERT_FALSE(array);
  EXPECT_NE(array.error().message.find("not a JSON object"), std::string::npos);
  auto truncated = read(reader, R"({"measurement_start_time": "2022-01-01 00:00:00", "test_keys": {)", facts);
  EXPECT_FALSE(truncated);
  auto trailing = read(reader, R"({"measurement_start_time": "2022-01-01 00:00:00"} {"x": 1})", facts);
  EXPECT_FALSE(trailing);
  auto fine = read(reader, R"({"test_keys": null, "measurement_start_time": "2022-01-01 00:00:00", "probe_asn": "AS9198"})", facts);
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(facts.probe_asn, 9198u);
}

TEST(MeasurementText, UrlHostAndAsn) {
  EXPECT_EQ(url_host("https://WWW.Example.com:8443/path?q#f"), "www.example.com");
  EXPECT_EQ(url_host("http://user@host.kz/"), "host.kz");
  EXPECT_EQ(url_host("https://[2001:db8::1]:443/"), "2001:db8::1");
  EXPECT_EQ(url_host("example.org."), "example.org");
  EXPECT_EQ(parse_asn("AS30722"), 30722u);
  EXPECT_EQ(parse_asn("as9198"), 9198u);
  EXPECT_EQ(parse_asn("ASX"), 0u);
  EXPECT_EQ(parse_asn("AS99999999999"), 0u);
}

TEST(HandshakeTime, AnOffsetNoMeasurementHasCountsFromTheStart) {
  const UtcSeconds start = parse_utc("2022-03-01 10:00:00").value();
  EXPECT_EQ(handshake_time(start, 0.5), start);
  EXPECT_EQ(handshake_time(start, 61.9), start + std::chrono::seconds(61)) << "whole seconds, rounded down";
  EXPECT_EQ(handshake_time(start, 86400.0), start + std::chrono::seconds(86400)) << "a day is still a measurement";
  for (const double offset : {86401.0, -3.0, 7.77778e123, -1e300, std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_EQ(handshake_time(start, offset), start) << offset;
  }
}

}  // namespace
}  // namespace mitmscope::ooni
