// The crypto floor of bench.cpp timed with OpenSSL's low-level SHA256_* functions instead
// of EVP, for docs/PERFORMANCE.md's figure of what EVP's per-call overhead costs a run.
// The simulator itself uses EVP only; these functions are deprecated in OpenSSL 3, so this
// file (not built by default; bench/run builds it) compiles with deprecation warnings.
//
//   pbftsim_lowlevel_floor --hmac N [--sha OPS:BYTES]...   (the line bench prints as
//                                                            <workload>.crypto_counts)
// Prints the seconds the same operations take: each SHA-256 size class replayed with its
// operation count and bytes; each HMAC over a 32-byte digest from keyed states copied by value.
#include <openssl/sha.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

volatile unsigned char g_sink = 0;

struct ShaClass {
  std::uint64_t ops = 0, bytes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t hmac_ops = 0;
  std::vector<ShaClass> classes;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--hmac")) {
      hmac_ops = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--sha")) {
      ShaClass c;
      char* end = nullptr;
      c.ops = std::strtoull(argv[i + 1], &end, 10);
      c.bytes = (end && *end == ':') ? std::strtoull(end + 1, nullptr, 10) : 0;
      if (c.ops) classes.push_back(c);
    } else {
      std::fprintf(stderr, "usage: %s --hmac N [--sha OPS:BYTES]...\n", argv[0]);
      return 2;
    }
  }
  std::size_t largest = 64;
  for (const auto& c : classes) largest = std::max<std::size_t>(largest, c.bytes / c.ops + 1);
  std::vector<unsigned char> data(largest, 0x5a);
  unsigned char key_block[64], inner_hash[32], out[32];
  std::memset(key_block, 0x36, sizeof key_block);
  SHA256_CTX inner, outer, c;
  SHA256_Init(&inner);
  SHA256_Update(&inner, key_block, 64);
  std::memset(key_block, 0x5c, sizeof key_block);
  SHA256_Init(&outer);
  SHA256_Update(&outer, key_block, 64);
  unsigned char sink = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& k : classes) {
    const std::uint64_t size = k.bytes / k.ops, longer = k.bytes % k.ops;
    for (std::uint64_t i = 0; i < k.ops; ++i) {
      data[0] = static_cast<unsigned char>(i);
      SHA256_Init(&c);
      SHA256_Update(&c, data.data(), size + (i < longer));
      SHA256_Final(out, &c);
      sink ^= out[0];
    }
  }
  unsigned char digest[32] = {};
  for (std::uint64_t i = 0; i < hmac_ops; ++i) {
    digest[0] = static_cast<unsigned char>(i);
    digest[1] ^= sink;
    c = inner;
    SHA256_Update(&c, digest, 32);
    SHA256_Final(inner_hash, &c);
    c = outer;
    SHA256_Update(&c, inner_hash, 32);
    SHA256_Final(out, &c);
    sink ^= out[0];
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_sink = sink;
  std::printf("%.6f\n", s);
  return 0;
}
