// Little-endian, bounds-checked reading and writing of the fixed-width fields used by the
// wire format and by snapshots. A WireReader never reads past its input: after the first
// failure every read returns zero/empty and ok() stays false.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace protocol {

// A little-endian u32 at p (one load on a little-endian host).
inline std::uint32_t load_le32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

class WireWriter {
 public:
  WireWriter() = default;
  // Appends to `start` (a buffer whose capacity the caller wants reused).
  explicit WireWriter(std::vector<std::uint8_t>&& start) : out_(std::move(start)) {}
  void reserve(std::size_t bytes) { out_.reserve(bytes); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) { put<4>(v); }
  void u64(std::uint64_t v) { put<8>(v); }
  void raw(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::span<const std::uint8_t> b) {  // u32 length, then the bytes
    u32(static_cast<std::uint32_t>(b.size()));
    raw(b);
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  template <std::size_t N>
  void put(std::uint64_t v) {
    const std::size_t at = out_.size();
    out_.resize(at + N);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out_.data() + at, &v, N);  // the low N bytes, in order: one store
    } else {
      for (std::size_t i = 0; i < N; ++i) out_[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
  }
  std::vector<std::uint8_t> out_;
};

class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(get<1>()); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get<4>()); }
  std::uint64_t u64() { return get<8>(); }
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
  // Fixed widths: on a little-endian host one load (GCC does not merge the byte loop).
  template <std::size_t N>
  std::uint64_t get() {
    if (!ok_ || in_.size() - pos_ < N) {
      ok_ = false;
      return 0;
    }
    const std::uint8_t* b = in_.data() + pos_;
    pos_ += N;
    std::uint64_t v = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&v, b, N);
    } else {
      for (std::size_t i = 0; i < N; ++i) v |= std::uint64_t{b[i]} << (8 * i);
    }
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace protocol
