// Trace output: one JSON object per traced address (docs/CLI.md, "trace"), the small
// human table, and the bulk aggregate the study computed (share of hosts whose forged
// certificate is injected before the host, hops before the host, router pairs, per AS).
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "analyze/asn_map.h"
#include "trace/tracer.h"

namespace mitmscope {

nlohmann::ordered_json trace_result_json(const TraceResult& result, const AsnMap* asn_map);
std::string trace_result_text(const TraceResult& result, const AsnMap* asn_map);

// True when the run forged the target somewhere (any kind but none/inconclusive).
bool trace_found_interception(const InjectionPoint& point);

class TraceAggregate {
 public:
  // `asn`: the address's AS from the prefix table; without one, a host tag "ASnnn" is used.
  void add(const TraceResult& result, const AsnMap* asn_map);
  nlohmann::ordered_json json() const;
  std::string text() const;

 private:
  // Most hosts first.
  std::vector<std::pair<std::pair<std::string, std::string>, size_t>> sorted_router_pairs() const;
  struct Group {
    std::string name;
    size_t hosts = 0, intercepted = 0, before_host = 0;
  };
  size_t hosts_ = 0, intercepted_ = 0, before_host_ = 0, inconsistent_ = 0, multi_router_ = 0;
  std::map<std::string, size_t> kinds_;
  std::map<int, size_t> hops_before_host_;
  std::map<std::pair<std::string, std::string>, size_t> router_pairs_;
  std::map<std::string, Group> per_as_;   // "AS9198"
};

}  // namespace mitmscope
