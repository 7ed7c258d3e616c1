// ByteReader: the one way mitmscope reads hostile bytes (ServerHello, ClientHello, ICMP quotes, captured
// frames, TLS records). Every read checks the bounds and says whether it succeeded; a failed read leaves
// the reader where it was, so a parser can report the offset of the field it could not read. Big-endian,
// as the wire formats are. Length-prefixed vectors (TLS's opaque<0..2^16-1>) become readers of their own,
// so a parser can never run past the vector it is in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace mitmscope {

class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  bool u8(uint8_t& out) { return read_number(1, out); }
  bool u16(uint16_t& out) { return read_number(2, out); }
  bool u24(uint32_t& out) { return read_number(3, out); }
  bool u32(uint32_t& out) { return read_number(4, out); }

  // The next `count` bytes, without copying.
  bool bytes(size_t count, std::span<const uint8_t>& out) {
    if (remaining() < count) return false;
    out = data_.subspan(offset_, count);
    offset_ += count;
    return true;
  }
  bool skip(size_t count) {
    std::span<const uint8_t> ignored;
    return bytes(count, ignored);
  }
  // A vector behind a big-endian length of `prefix_bytes` (1, 2 or 3) as a reader of its own.
  bool prefixed(size_t prefix_bytes, ByteReader& out) {
    const size_t start = offset_;
    uint32_t length = 0;
    std::span<const uint8_t> body;
    if (!read_number(prefix_bytes, length) || !bytes(length, body)) {
      offset_ = start;
      return false;
    }
    out = ByteReader(body);
    return true;
  }

  // The next `count` bytes, or as many as there are, as a reader of their own: for input cut short on
  // purpose (a TCP segment that ends inside a message), where what arrived is still read.
  ByteReader take_at_most(size_t count) {
    const size_t taken = count < remaining() ? count : remaining();
    ByteReader out(data_.subspan(offset_, taken));
    offset_ += taken;
    return out;
  }

  // Reads without moving: the byte `ahead` bytes from here, if there is one.
  std::optional<uint8_t> peek(size_t ahead = 0) const {
    if (remaining() <= ahead) return std::nullopt;
    return data_[offset_ + ahead];
  }

  size_t remaining() const { return data_.size() - offset_; }
  size_t offset() const { return offset_; }
  bool empty() const { return remaining() == 0; }
  std::span<const uint8_t> rest() const { return data_.subspan(offset_); }

 private:
  template <typename Number>
  bool read_number(size_t width, Number& out) {
    if (width == 0 || width > sizeof(uint32_t) || remaining() < width) return false;
    uint32_t value = 0;
    for (size_t i = 0; i < width; ++i) value = value << 8 | data_[offset_ + i];
    out = static_cast<Number>(value);
    offset_ += width;
    return true;
  }

  std::span<const uint8_t> data_;
  size_t offset_ = 0;
};

}  // namespace mitmscope
