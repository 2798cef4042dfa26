#include "protocol/types.h"

namespace protocol {

bool MessageDigest::is_zero() const {
  for (auto b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::string MessageDigest::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string MessageDigest::short_hex() const { return hex().substr(0, 12); }

}  // namespace protocol
