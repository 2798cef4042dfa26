#include "sim/rng.h"

#include <openssl/evp.h>

#include <boost/random/bernoulli_distribution.hpp>
#include <boost/random/uniform_01.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <cassert>
#include <string>

namespace sim {

std::uint64_t derive_stream_seed(std::uint64_t root_seed, std::string_view name) {
  std::string input = "pbftsim/rng/v1/";
  input.append(name);
  input.push_back('\0');
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<char>((root_seed >> (8 * i)) & 0xff));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int ok = EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  assert(ok == 1 && length == 32);
  (void)ok;
  std::uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed |= std::uint64_t{digest[i]} << (8 * i);
  return seed;
}

double uniform_01(RngEngine& rng) {
  boost::random::uniform_01<double> dist;
  return dist(rng);
}

std::uint64_t uniform_int(RngEngine& rng, std::uint64_t lo, std::uint64_t hi) {
  assert(lo <= hi);
  boost::random::uniform_int_distribution<std::uint64_t> dist(lo, hi);
  return dist(rng);
}

bool bernoulli(RngEngine& rng, double p) {
  if (p <= 0.0) return false;  // draw nothing: a zero probability must not shift the stream
  if (p >= 1.0) return true;
  boost::random::bernoulli_distribution<double> dist(p);
  return dist(rng);
}

}  // namespace sim
