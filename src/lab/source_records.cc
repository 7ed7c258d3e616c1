#include "lab/source_records.h"

#include <chrono>
#include <cstdint>

#include <fmt/format.h>

namespace mitmscope::lab {

std::string_view record_format_name(RecordFormat format) {
  switch (format) {
    case RecordFormat::kAtlas: return "atlas-sslcert";
    case RecordFormat::kHyperquackV1: return "hyperquack-v1";
    case RecordFormat::kHyperquackV2: return "hyperquack-v2";
    case RecordFormat::kSatellite: return "satellite";
    case RecordFormat::kZgrab2: return "zgrab2";
  }
  return "unknown";
}

std::string pem_of(const std::string& base64) {
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t at = 0; at < base64.size(); at += 64) pem += base64.substr(at, 64) + "\n";
  return pem + "-----END CERTIFICATE-----";
}

std::string go_time(UtcSeconds time) {
  const std::string local = format_utc(time - std::chrono::hours{4});  // "YYYY-MM-DDTHH:MM:SSZ"
  return fmt::format("{} {}.123456789 -0400 EDT m=+1.5", local.substr(0, 10), local.substr(11, 8));
}

std::string offset_time(UtcSeconds time) {
  const std::string local = format_utc(time - std::chrono::hours{5});
  return local.substr(0, 19) + ".123456789-05:00";
}

nlohmann::json atlas_json(const SourceRecord& record) {
  nlohmann::json certificates = nlohmann::json::array();
  for (const auto& certificate : record.chain) certificates.push_back(pem_of(certificate));
  const int64_t timestamp = record.time.time_since_epoch().count();
  return {{"af", 4}, {"cert", certificates}, {"dst_addr", record.server_ip}, {"dst_name", record.sni},
          {"dst_port", "443"}, {"from", record.vantage_ip}, {"fw", 5080}, {"method", "TLS"}, {"msm_id", 61000000},
          {"msm_name", "SSLCert"}, {"prb_id", record.probe}, {"rt", 120.5}, {"server_cipher", "0xc02f"},
          {"src_addr", "192.168.1.20"}, {"timestamp", timestamp}, {"ttc", 40.1}, {"type", "sslcert"}, {"ver", "1.2"}};
}

nlohmann::json hyperquack_v1_json(const SourceRecord& record) {
  nlohmann::json tls = {{"version", 771}, {"cipher_suite", 49199}, {"cert", record.chain.empty() ? "" : record.chain[0]}};
  return {{"Server", record.vantage_ip}, {"Keyword", record.sni}, {"Retries", 0},
          {"Results", {{{"Sent", record.sni},
                        {"Received", {{"status_line", "200 OK"}, {"headers", nlohmann::json::object()}, {"body", ""}, {"tls", tls}}},
                        {"Success", record.matches_template},
                        {"StartTime", offset_time(record.time)},
                        {"EndTime", offset_time(record.time + std::chrono::seconds{1})}},
                       {{"Sent", "example5718349450314.com"}, {"Success", true}, {"StartTime", offset_time(record.time)},
                        {"EndTime", offset_time(record.time)}}}},
          {"Blocked", !record.matches_template}, {"FailSanity", record.controls_failed}, {"StatefulBlock", false}};
}

nlohmann::json hyperquack_v2_json(const SourceRecord& record) {
  auto control = [&](const char* name) {
    return nlohmann::json{{"matches_template", true}, {"control_url", name}, {"start_time", offset_time(record.time)},
                          {"end_time", offset_time(record.time)}};
  };
  nlohmann::json answer = {{"status_line", "200 OK"}, {"headers", nlohmann::json::object()}, {"body", ""},
                           {"TlsVersion", 771}, {"CipherSuite", 49199}, {"Certificate", record.chain.empty() ? "" : record.chain[0]}};
  return {{"vp", record.vantage_ip}, {"location", {{"country_name", "Kazakhstan"}, {"country_code", record.country}}},
          {"service", "https"}, {"test_url", record.sni},
          {"response", {control("control-9f26cf1579e1e31d.com"),
                        {{"matches_template", record.matches_template}, {"response", answer},
                         {"start_time", offset_time(record.time)}, {"end_time", offset_time(record.time + std::chrono::seconds{1})}},
                        control("control-be2b77e1cde11c02.com")}},
          {"anomaly", !record.matches_template}, {"controls_failed", record.controls_failed}, {"stateful_block", false},
          {"tag", format_utc(record.time).substr(0, 10) + "T01:01:01"}};   // the scan's start: one per day here
}

nlohmann::json satellite_json(const SourceRecord& record) {
  return {{"ip", record.vantage_ip}, {"keyword", record.sni}, {"http", {{"status_line", "200 OK"}, {"body", ""}}},
          {"https", {{"status_line", "200 OK"}, {"body", ""}, {"TlsVersion", 771}, {"CipherSuite", 49195}, {"Certificate", record.chain}}},
          {"fetched", true}, {"start_time", go_time(record.time)}, {"end_time", go_time(record.time + std::chrono::seconds{1})},
          {"trusted_cert", false}, {"cert_hostname_match", true}};
}

nlohmann::json zgrab2_json(const SourceRecord& record) {
  nlohmann::json chain = nlohmann::json::array();
  for (size_t i = 1; i < record.chain.size(); ++i) chain.push_back({{"raw", record.chain[i]}});
  nlohmann::json certificates = {{"certificate", {{"raw", record.chain.empty() ? "" : record.chain[0]}}}, {"chain", chain}};
  nlohmann::json log = {{"server_hello", {{"version", {{"name", "TLSv1.2"}, {"value", 771}}},
                                          {"cipher_suite", {{"hex", "0xC02F"}, {"name", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, {"value", 49199}}}}},
                        {"server_certificates", certificates}};
  return {{"ip", record.vantage_ip}, {"domain", record.sni},
          {"data", {{"tls", {{"status", "success"}, {"protocol", "tls"}, {"result", {{"handshake_log", log}}},
                             {"timestamp", format_utc(record.time)}}}}}};
}

nlohmann::json ooni_json(const SourceRecord& record) {
  const std::string address = record.server_ip + ":443";
  const std::string start = format_utc(record.time);
  return {{"measurement_start_time", start.substr(0, 10) + " " + start.substr(11, 8)}, {"probe_cc", record.country},
          {"probe_asn", "AS9198"}, {"probe_network_name", "Kazakhtelecom"}, {"input", "https://" + record.sni + "/"},
          {"test_name", "web_connectivity"}, {"report_id", "20220301T100000Z_webconnectivity_KZ_9198_n1_test"},
          {"test_keys",
           {{"tls_handshakes", {{{"address", address}, {"server_name", record.sni}, {"failure", "ssl_unknown_authority"},
                                 {"peer_certificates", {{{"data", record.chain.empty() ? "" : record.chain[0]}, {"format", "base64"}}}},
                                 {"t", 0.5}}}},
            {"dns_consistency", "consistent"},
            {"control", {{"dns", {{"addrs", {record.server_ip}}}},
                         {"tls_handshake", {{address, {{"server_name", record.sni}, {"status", true}, {"failure", nullptr}}}}}}}}}};
}

nlohmann::json record_json(RecordFormat format, const SourceRecord& record) {
  switch (format) {
    case RecordFormat::kAtlas: return atlas_json(record);
    case RecordFormat::kHyperquackV1: return hyperquack_v1_json(record);
    case RecordFormat::kHyperquackV2: return hyperquack_v2_json(record);
    case RecordFormat::kSatellite: return satellite_json(record);
    case RecordFormat::kZgrab2: return zgrab2_json(record);
  }
  return nullptr;
}

}  // namespace mitmscope::lab
