// key_exchange_bench: the first-flight client's X25519 exchange (tls13::shared_secret: the server's share imported,
// a context made, the secret derived) beside the scalar multiplication alone, as `openssl speed ecdhx25519` counts
// it (a derive on a context made once): what OpenSSL's EVP layer adds per connection.
// Run: build/key_exchange_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <openssl/evp.h>

#include <array>
#include <vector>

#include "tls/tls13_keys.h"

namespace {

using mitmscope::EvpPkeyCtxPtr;
using mitmscope::EvpPkeyPtr;

struct Pair {
  EvpPkeyPtr ours{EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")};
  std::vector<uint8_t> peer_share = [] {
    EvpPkeyPtr peer(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    std::vector<uint8_t> share(32);
    size_t length = share.size();
    EVP_PKEY_get_raw_public_key(peer.get(), share.data(), &length);
    return share;
  }();
};

void shared_secret(benchmark::State& state) {
  Pair pair;
  for (auto _ : state) benchmark::DoNotOptimize(mitmscope::tls13::shared_secret(pair.ours.get(), pair.peer_share));
}
BENCHMARK(shared_secret);

void scalar_multiplication_alone(benchmark::State& state) {
  Pair pair;
  EvpPkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pair.peer_share.data(), pair.peer_share.size()));
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new(pair.ours.get(), nullptr));
  EVP_PKEY_derive_init(context.get());
  EVP_PKEY_derive_set_peer(context.get(), peer.get());
  std::array<uint8_t, 32> secret{};
  for (auto _ : state) {
    size_t length = secret.size();
    if (EVP_PKEY_derive(context.get(), secret.data(), &length) != 1) state.SkipWithError("derive failed");
  }
}
BENCHMARK(scalar_multiplication_alone);

}  // namespace

BENCHMARK_MAIN();
