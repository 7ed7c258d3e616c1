// Writing TLS messages: big-endian integers, and blocks behind a length prefix that is filled in when the block
// ends. A block longer than its prefix can say is not truncated silently: the writer remembers it (ok()).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mitmscope {

class ByteWriter {
 public:
  void u8(uint8_t value) { out_.push_back(value); }
  void u16(uint16_t value) { put(value, 2); }
  void u24(uint32_t value) { put(value, 3); }
  void bytes(std::span<const uint8_t> data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void text(std::string_view data) { out_.insert(out_.end(), data.begin(), data.end()); }

  // A block with a `prefix`-byte length (1, 2 or 3): begin() before its content, end() after it.
  struct Block {
    size_t at;
    size_t prefix;
  };
  Block begin(size_t prefix) {
    const Block block{out_.size(), prefix};
    out_.insert(out_.end(), prefix, 0);
    return block;
  }
  void end(Block block) {
    const size_t length = out_.size() - block.at - block.prefix;
    if (length >> (8 * block.prefix)) ok_ = false;
    for (size_t i = 0; i < block.prefix; ++i) out_[block.at + i] = static_cast<uint8_t>(length >> (8 * (block.prefix - 1 - i)));
  }

  bool ok() const { return ok_; }
  size_t size() const { return out_.size(); }
  const std::vector<uint8_t>& data() const { return out_; }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  void put(uint32_t value, size_t width) {
    for (size_t i = width; i > 0; --i) out_.push_back(static_cast<uint8_t>(value >> (8 * (i - 1))));
  }
  std::vector<uint8_t> out_;
  bool ok_ = true;
};

}  // namespace mitmscope
