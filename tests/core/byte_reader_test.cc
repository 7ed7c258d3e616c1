#include "core/byte_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace mitmscope {
namespace {

TEST(ByteReader, ReadsBigEndianNumbersAndStopsAtTheEnd) {
  const std::vector<uint8_t> bytes = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
  ByteReader reader(bytes);
  uint8_t byte = 0;
  uint16_t pair = 0;
  uint32_t triple = 0, quad = 0;
  ASSERT_TRUE(reader.u8(byte));
  ASSERT_TRUE(reader.u16(pair));
  ASSERT_TRUE(reader.u24(triple));
  ASSERT_TRUE(reader.u32(quad));
  EXPECT_EQ(byte, 0x01);
  EXPECT_EQ(pair, 0x0203);
  EXPECT_EQ(triple, 0x040506u);
  EXPECT_EQ(quad, 0x0708090au);
  EXPECT_TRUE(reader.empty());
  EXPECT_FALSE(reader.u8(byte));
  EXPECT_EQ(byte, 0x01);   // a failed read writes nothing
}

TEST(ByteReader, AFailedReadLeavesTheOffsetWhereItWas) {
  const std::vector<uint8_t> bytes = {0xaa, 0xbb, 0xcc};
  ByteReader reader(bytes);
  ASSERT_TRUE(reader.skip(1));
  uint32_t quad = 0;
  EXPECT_FALSE(reader.u32(quad));
  EXPECT_FALSE(reader.u24(quad));
  EXPECT_EQ(reader.offset(), 1u);
  std::span<const uint8_t> rest;
  EXPECT_FALSE(reader.bytes(3, rest));
  ASSERT_TRUE(reader.bytes(2, rest));
  EXPECT_EQ(rest[1], 0xcc);
}

TEST(ByteReader, PrefixedVectorsAreReadersOfTheirOwn) {
  // opaque<0..2^16-1> holding 3 bytes, then one byte after it
  const std::vector<uint8_t> bytes = {0x00, 0x03, 0x11, 0x22, 0x33, 0x44};
  ByteReader reader(bytes);
  ByteReader inner;
  ASSERT_TRUE(reader.prefixed(2, inner));
  EXPECT_EQ(inner.remaining(), 3u);
  uint32_t value = 0;
  EXPECT_FALSE(inner.u32(value));   // cannot run past the vector into the byte after it
  ASSERT_TRUE(inner.u24(value));
  EXPECT_EQ(value, 0x112233u);
  uint8_t after = 0;
  ASSERT_TRUE(reader.u8(after));
  EXPECT_EQ(after, 0x44);
}

TEST(ByteReader, APrefixLongerThanTheInputFailsAndMovesNothing) {
  const std::vector<uint8_t> bytes = {0x05, 0x01, 0x02};
  ByteReader reader(bytes);
  ByteReader inner;
  EXPECT_FALSE(reader.prefixed(1, inner));
  EXPECT_EQ(reader.offset(), 0u);
  EXPECT_FALSE(reader.prefixed(4, inner));   // no such prefix width in TLS
  EXPECT_FALSE(reader.prefixed(0, inner));
}

TEST(ByteReader, TakeAtMostKeepsWhatArrived) {
  const std::vector<uint8_t> bytes = {0x01, 0x02, 0x03};
  ByteReader reader(bytes);
  ByteReader cut = reader.take_at_most(10);
  EXPECT_EQ(cut.remaining(), 3u);
  EXPECT_TRUE(reader.empty());
  EXPECT_EQ(cut.peek(2), 0x03);
  EXPECT_EQ(cut.peek(3), std::nullopt);
}

}  // namespace
}  // namespace mitmscope
