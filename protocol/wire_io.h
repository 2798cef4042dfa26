// Little-endian, bounds-checked reading and writing of the fixed-width fields used by the
// wire format and by snapshots. A WireReader never reads past its input: after the first
// failure every read returns zero/empty and ok() stays false.
//
// The byte order itself is Boost.Endian's: one load or store on a little-endian host.
#pragma once
#include <boost/endian/conversion.hpp>
#include <cstdint>
#include <span>
#include <vector>

namespace protocol {

inline std::uint16_t load_le16(const std::uint8_t* p) { return boost::endian::load_little_u16(p); }
inline std::uint32_t load_le32(const std::uint8_t* p) { return boost::endian::load_little_u32(p); }
inline std::uint64_t load_le64(const std::uint8_t* p) { return boost::endian::load_little_u64(p); }

class WireWriter {
 public:
  WireWriter() = default;
  // Appends to `start` (a buffer whose capacity the caller wants reused).
  explicit WireWriter(std::vector<std::uint8_t>&& start) : out_(std::move(start)) {}
  void reserve(std::size_t bytes) { out_.reserve(bytes); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { boost::endian::store_little_u16(grow(2), v); }
  void u32(std::uint32_t v) { boost::endian::store_little_u32(grow(4), v); }
  void u64(std::uint64_t v) { boost::endian::store_little_u64(grow(8), v); }
  void raw(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::span<const std::uint8_t> b) {  // u32 length, then the bytes
    u32(static_cast<std::uint32_t>(b.size()));
    raw(b);
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::uint8_t* grow(std::size_t n) {  // n more bytes at the end: where they start
    const std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }
  std::vector<std::uint8_t> out_;
};

class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint8_t u8() {
    const std::uint8_t* p = take(1);
    return p == nullptr ? 0 : *p;
  }
  std::uint16_t u16() {
    const std::uint8_t* p = take(2);
    return p == nullptr ? 0 : load_le16(p);
  }
  std::uint32_t u32() {
    const std::uint8_t* p = take(4);
    return p == nullptr ? 0 : load_le32(p);
  }
  std::uint64_t u64() {
    const std::uint8_t* p = take(8);
    return p == nullptr ? 0 : load_le64(p);
  }
  std::span<const std::uint8_t> raw(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // A u32 length (at most `max_bytes`) and that many bytes.
  std::span<const std::uint8_t> bytes(std::uint32_t max_bytes) {
    const std::uint32_t n = u32();
    if (n > max_bytes) ok_ = false;
    return raw(ok_ ? n : 0);
  }
  void fail() { ok_ = false; }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  // The next n bytes, or nullptr (and ok() false from now on) when fewer are left.
  const std::uint8_t* take(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return nullptr;
    }
    const std::uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace protocol
