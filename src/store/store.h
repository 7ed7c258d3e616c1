// The Store: where measurements live beyond one run. Scan code writes through this
// interface only, so the embedded SQLite store and the ClickHouse one (later) are
// interchangeable. Certificates are stored once, by SHA-256; every (scan, address,
// port, SNI) holds one result, so a resumed scan never stores anything twice.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace mitmscope {

struct ScanRecord {
  int64_t id = 0;
  std::string started_at;
  std::string parameters;      // JSON: files, seed, shards, options; a resume must match it
  bool finished = false;
};

struct StoredResult {
  std::string ip;
  uint16_t port = 0;
  std::string sni;
  std::string time;
  std::string verdict;
  std::string result_json;     // the whole output object
  std::vector<std::pair<std::string, std::vector<uint8_t>>> certificates;  // sha256 hex, DER; leaf first
};

class Store {
 public:
  virtual ~Store() = default;
  // A new scan, or (resume) the latest unfinished scan with the same parameters.
  virtual Result<ScanRecord> begin_scan(const std::string& parameters, bool resume) = 0;
  // Stores a batch atomically; results already stored for the scan are left as they are.
  virtual Result<size_t> add_results(int64_t scan_id, std::span<const StoredResult> results) = 0;
  // "ip:port sni" of every result already stored for the scan.
  virtual Result<std::set<std::string>> stored_pairs(int64_t scan_id) = 0;
  virtual Result<void> finish_scan(int64_t scan_id, const std::string& summary_json) = 0;
};

}  // namespace mitmscope
